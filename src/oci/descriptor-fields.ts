import { RegistryError } from './errors.js';

/**
 * The typed fields of a pushed manifest beyond what the registry itself needs, as the image spec
 * defines them: annotations are a map of strings to strings (on the manifest, the index and every
 * descriptor), `urls` and the platform's feature lists are arrays of strings, `artifactType`,
 * `data` and the platform's names are strings. Fields the spec does not define are left alone (the
 * spec says to ignore them). Applied to pushes only: upstream manifests are stored as they are.
 */

export const manifestInvalid = (reason: string): RegistryError =>
  new RegistryError('MANIFEST_INVALID', { reason }, { message: `manifest invalid: ${reason}` });

const isMap = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A key as it may appear in a message: quoted, cut short. */
const quoted = (key: string): string => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);

export function checkAnnotations(value: unknown, where: string): void {
  if (value === undefined) return;
  if (!isMap(value)) throw manifestInvalid(`${where}.annotations must be a map of strings to strings`);
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw manifestInvalid(`${where}.annotations[${quoted(key)}] must be a string`);
  }
}

function checkString(value: unknown, where: string): void {
  if (value !== undefined && typeof value !== 'string') throw manifestInvalid(`${where} must be a string`);
}

function checkStrings(value: unknown, where: string): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) throw manifestInvalid(`${where} must be an array of strings`);
}

function checkPlatform(value: unknown, where: string): void {
  if (value === undefined) return;
  if (!isMap(value)) throw manifestInvalid(`${where} must be an object`);
  for (const field of ['architecture', 'os']) {
    if (typeof value[field] !== 'string') throw manifestInvalid(`${where}.${field} must be a string`);
  }
  checkString(value.variant, `${where}.variant`);
  checkString(value['os.version'], `${where}.os.version`);
  checkStrings(value['os.features'], `${where}.os.features`);
  checkStrings(value.features, `${where}.features`);
}

/** The optional descriptor fields; `mediaType`, `digest` and `size` are checked by the parser for every manifest. */
export function checkDescriptorFields(descriptor: Record<string, unknown>, where: string): void {
  checkStrings(descriptor.urls, `${where}.urls`);
  checkAnnotations(descriptor.annotations, where);
  checkString(descriptor.artifactType, `${where}.artifactType`);
  checkString(descriptor.data, `${where}.data`);
  checkPlatform(descriptor.platform, `${where}.platform`);
}

/** The manifest's (or index's) own optional fields. */
export function checkManifestFields(manifest: Record<string, unknown>): void {
  checkAnnotations(manifest.annotations, 'manifest');
  checkString(manifest.artifactType, 'artifactType');
}
