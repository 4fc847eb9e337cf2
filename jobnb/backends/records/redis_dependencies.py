"""What a job waits for, in a Redis records store: the Lua that settles waiting jobs,
part of every script that ends a job (redis_scripts.MOVE), and the script that files
and settles the jobs just added (``SETTLE_ADDED``, in the submit's MULTI).

Keys, under the store's prefix::

    dependents:<id>   set: the waiting jobs filed under job <id>, which has not ended;
                      deleted when it ends (its dependents are settled then)
    job:<id>          hash field ``after_ids``: the ids a job waits for, joined by commas

A script runs whole on the server, so a dependency's end and the adding of its
dependent are ordered: either the end comes first and ``SETTLE_ADDED`` sees it, or the
add does and the end finds the dependent in ``dependents:<id>``. A waiting job whose
every dependency finished becomes ``queued``, and the script returns its id (the
caller queues it: ``Records.on_release``); one with a dependency that failed, was
cancelled, was lost or is not held is cancelled (``move``), saying which, and its own
dependents are settled in turn, down a chain.
"""

from __future__ import annotations

from .base import DEPENDENCY_ERROR, ENDED_HOW, MISSING_DEPENDENCY


def _lua_text(text: str) -> str:
    """``text`` as a Lua long string (the texts come from records/base.py)."""
    assert "]==]" not in text
    return f"[==[{text}]==]"


# Before ``move``: what it calls once a job ended (defined after it, since it calls
# ``move`` too), and the ids made queued, which the script returns (``with_released``).
DECLARE = """
local released = {}
local release_dependents
local function with_released(value)
    if #released == 0 then return value end
    return {value, released}
end
"""

_HOW = ", ".join(f"{status} = {_lua_text(how)}" for status, how in ENDED_HOW.items())
_ERROR = DEPENDENCY_ERROR.replace("{id}", "%s").replace("{name}", "%s").replace("{how}", "%s")

# After ``move``: settling one waiting job, and the dependents of a job that ended.
RELEASE = f"""
local HOW = {{{_HOW}, missing = {_lua_text(MISSING_DEPENDENCY)}}}
local DEPENDENCY_ERROR = {_lua_text(_ERROR)}
local function settle(p, id)
    local job = p .. 'job:' .. id
    local found = redis.call('HMGET', job, 'status', 'after_ids')
    if found[1] ~= 'waiting' then return end
    local pending = false
    for need in string.gmatch(found[2] or '', '[^,]+') do
        local info = redis.call('HMGET', p .. 'job:' .. need, 'status', 'name')
        local status = info[1]
        if (not status) or HOW[status] then
            local err = string.format(
                DEPENDENCY_ERROR, need, info[2] or '?', HOW[status or 'missing'])
            move(p, id, job, 'waiting', 'cancelled', nil, nil,
                 'finished', server_now(), 'error', err)
            return
        end
        if status ~= 'finished' then pending = true end
    end
    if pending then return end
    redis.call('HSET', job, 'status', 'queued')
    redis.call('ZREM', p .. 'status:waiting', id)
    redis.call('ZADD', p .. 'status:queued', redis.call('HGET', job, 'seq'), id)
    released[#released + 1] = id
end
release_dependents = function(p, id)
    local key = p .. 'dependents:' .. id
    local waiting = redis.call('SMEMBERS', key)
    if #waiting == 0 then return end
    redis.call('DEL', key)
    for _, dependent in ipairs(waiting) do settle(p, dependent) end
end
"""

# The waiting jobs just added (ARGV[2:], their hashes written in the same MULTI): each
# filed under the jobs it waits for that have not ended, then settled against those
# that have. Returns the ids made queued (``with_released``), or 0.
SETTLE_ADDED_BODY = """
local p = ARGV[1]
for i = 2, #ARGV do
    local id = ARGV[i]
    local after = redis.call('HGET', p .. 'job:' .. id, 'after_ids') or ''
    for need in string.gmatch(after, '[^,]+') do
        local status = redis.call('HGET', p .. 'job:' .. need, 'status')
        if status == 'waiting' or status == 'queued' or status == 'running' then
            redis.call('SADD', p .. 'dependents:' .. need, id)
        end
    end
    settle(p, id)
end
return with_released(0)
"""


def split_released(reply) -> tuple[object, list[str]]:
    """A script's reply and the ids it made queued (``with_released``)."""
    if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], list):
        return reply[0], [raw.decode() for raw in reply[1]]
    return reply, []
