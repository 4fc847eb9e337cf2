"""Retries in a Redis store (backends/retries.py says when a job runs again): Lua that
puts a run that failed, or was lost, with attempts left back in ``queued``, in the
script that ends it, its run kept in the job's ``attempts`` (JSON), and its id in the
sorted set ``retry`` scored by when it may run again (the server's clock, as every
liveness time of this store); ``TAKE_DUE`` gives the due ones to a worker's sweep, which
queues them (backends/retry_sweep.py).

A job whose hash has ``retry_at`` is never started (START skips it) nor counted among
the queued ids a repair looks for: only the sweep that takes it from ``retry`` queues
it, once. The scripts expect ``SERVER_NOW`` and ``LOG`` (redis_scripts.py) before them.
"""

from __future__ import annotations

from ... import defaults
from ..retries import LOST_CLASSES
from .log_bounds import CHUNK_MOST

# Back to queued, waiting in `retry` for `delay` s, with `attempt` (a table) kept and
# `note` in its log.
PUT_BACK = f"""
local function put_back(p, id, job, old, attempt, delay, note)
    local attempts = cjson.decode(redis.call('HGET', job, 'attempts') or '[]')
    attempts[#attempts + 1] = attempt
    local at = server_now() + delay
    redis.call('HSET', job, 'status', 'queued', 'attempts', cjson.encode(attempts),
               'retry_at', at, 'progress_done', 0)
    redis.call('HDEL', job, 'started', 'worker', 'heartbeat', 'progress_total',
               'progress_message')
    redis.call('ZREM', p .. 'status:' .. old, id)
    redis.call('ZADD', p .. 'status:queued', redis.call('HGET', job, 'seq'), id)
    redis.call('ZREM', p .. 'beats', id)
    redis.call('ZADD', p .. 'retry', at, id)
    append_log(p, id, note, {defaults.LOG_BYTES_KEPT}, {CHUNK_MOST})
end
"""

_LOST_CLASSES = ", ".join(f"['{name}'] = true" for name in LOST_CLASSES)

# MARK_LOST's choice for a silent running job (the Lua twin of retries.retry_plan for a
# lost run): true when it was put back, its attempts and retry_on allowing it.
RETRY_LOST = (
    PUT_BACK
    + f"""
local LOST_CLASSES = {{{_LOST_CLASSES}}}
local function retry_lost(p, id, job, err)
    local found = redis.call('HMGET', job, 'retries', 'retry_delay', 'retry_on', 'attempts',
                             'cancel_requested', 'worker', 'started')
    local retries = tonumber(found[1]) or 0
    if retries == 0 or found[5] then return false end
    local number = #cjson.decode(found[4] or '[]') + 1
    if number > retries then return false end
    local matched = false
    for _, name in ipairs(cjson.decode(found[3] or '[]')) do
        if LOST_CLASSES[name] then matched = true end
    end
    if not matched then return false end
    local delay = (tonumber(found[2]) or 0) * 2 ^ (number - 1)
    local attempt = {{number = number, status = 'lost', error = err,
                     worker = found[6] or cjson.null, started = tonumber(found[7]) or cjson.null,
                     finished = server_now()}}
    local why = string.gsub(err, '%s+$', '')
    local note = string.format('jobnb: attempt %d of %d lost (%s); attempt %d starts in %s s\\n',
                               number, retries + 1, why, number + 1, tostring(delay))
    put_back(p, id, job, 'running', attempt, delay, note)
    return true
end
"""
)

# A worker's failed run, with the attempt and delay Python planned (ARGV[3], ARGV[4]):
# put back only if the job still runs the attempt planned for (ARGV[6]: the count of
# its earlier runs) and no cancel was asked for. 1 if put back.
RETRY = (
    PUT_BACK
    + """
local p, id, attempt, delay, note, before = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local job = p .. 'job:' .. id
local found = redis.call('HMGET', job, 'status', 'cancel_requested', 'attempts')
if found[1] ~= 'running' or found[2] then return 0 end
if #cjson.decode(found[3] or '[]') ~= tonumber(before) then return 0 end
put_back(p, id, job, 'running', cjson.decode(attempt), tonumber(delay), note)
return 1
"""
)

# The ids of the queued jobs whose next attempt is due, taken out of `retry` (a job
# cancelled meanwhile is dropped from it).
TAKE_DUE = """
local p = ARGV[1]
local due = redis.call('ZRANGEBYSCORE', p .. 'retry', '-inf', server_now(), 'LIMIT', 0, 1000)
local taken = {}
for _, id in ipairs(due) do
    redis.call('ZREM', p .. 'retry', id)
    local job = p .. 'job:' .. id
    if redis.call('HGET', job, 'status') == 'queued' then
        redis.call('HDEL', job, 'retry_at')
        taken[#taken + 1] = id
    end
end
return taken
"""
