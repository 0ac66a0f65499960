/**
 * Lua for keys a replica owns by value (its id in the key): only the owner extends or deletes one,
 * so a claim or a mark that expired and was taken by another replica is never touched by the first.
 * KEYS[1] the key, ARGV[1] the owner's value (ARGV[2] the new expiry in ms for RENEW).
 */
export const RENEW_IF_OWNER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
export const DELETE_IF_OWNER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
