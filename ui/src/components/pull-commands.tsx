import { useState } from 'preact/hooks';
import { imageReference, pullCommand, TOOLS, type Form, type Tool } from '../pull-commands';
import type { Info, Repository } from '../types';
import { CopyButton } from './copy-button';

/** Pull commands for one image, by tag or by digest, for each client; cached images in both forms. */
export function PullCommands({ info, repo, tag, digest }: { info: Info; repo: Pick<Repository, 'name' | 'kind' | 'upstream' | 'remoteName'>; tag?: string | undefined; digest: string }) {
  const [tool, setTool] = useState<Tool>('docker');
  const [by, setBy] = useState<'tag' | 'digest'>(tag ? 'tag' : 'digest');
  const forms: Form[] = repo.kind === 'cached' ? ['prefix', 'mirror'] : ['prefix'];
  return (
    <section class="pull" aria-label="Pull commands">
      <div class="pull-options">
        <div class="segmented" role="group" aria-label="Client">
          {TOOLS.map((t) => (
            <button type="button" class={t === tool ? 'active' : ''} aria-pressed={t === tool} onClick={() => setTool(t)}>{t}</button>
          ))}
        </div>
        {tag && (
          <div class="segmented" role="group" aria-label="Reference">
            <button type="button" class={by === 'tag' ? 'active' : ''} aria-pressed={by === 'tag'} onClick={() => setBy('tag')}>by tag</button>
            <button type="button" class={by === 'digest' ? 'active' : ''} aria-pressed={by === 'digest'} onClick={() => setBy('digest')}>by digest</button>
          </div>
        )}
      </div>
      {forms.map((form) => {
        const reference = imageReference(info, repo, form, by === 'tag' && tag ? { tag } : { digest });
        const command = pullCommand(tool, reference, form === 'prefix' && info.insecure);
        return (
          <div class="pull-line" data-form={form}>
            <span class="pull-form">{form === 'prefix' ? 'through Stowage' : 'as a mirror'}</span>
            <code class="command">{command}</code>
            <CopyButton text={command} />
          </div>
        );
      })}
    </section>
  );
}
