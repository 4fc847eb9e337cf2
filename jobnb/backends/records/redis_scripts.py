"""The Lua scripts of the Redis records store (redis.py): every change of a job's
status is one script, atomic on the server (a job is taken once, a cancelled job never
starts, a lost one stays lost). Each takes the key prefix as ARGV[1]; the texts it
writes (errors, log lines) come from Python (records/base.py), as arguments.
"""

from .redis_dependencies import DECLARE, RELEASE
from .redis_retries import RETRY, RETRY_LOST, TAKE_DUE

# Every key of one job, named once here (Python and Lua alike): what a drop deletes and a
# result_ttl expires. Its payload and its outcome each have a key of their own, a list
# of chunks (records/redis.py), never a field of its hash: a 500 MB result is then no
# single 500 MB string, and the hash, read at every look, stays small.
BLOB_KINDS = ("payload", "outcome")
_JOB_KEY_KINDS = ("job", "log", "logtail", *BLOB_KINDS)


def blob_key(prefix: str, kind: str, job_id: str) -> str:
    """The key of a job's payload or outcome (``kind``): a list of chunks."""
    return f"{prefix}{kind}:{job_id}"


def job_keys(prefix: str, job_id: str) -> list[str]:
    """Every key of job ``job_id`` under ``prefix``: its hash, its log's head and tail,
    its payload's and its outcome's chunks (the Lua twin: ``JOB_KEYS``'s ``job_keys``)."""
    return [f"{prefix}{kind}:{job_id}" for kind in _JOB_KEY_KINDS]


JOB_KEYS = (
    "\nlocal function job_keys(p, id)\n    return {"
    + ", ".join(f"p .. '{kind}:' .. id" for kind in _JOB_KEY_KINDS)
    + "}\nend\n"
)

# The server's clock, in seconds: what heartbeats, the lost cutoff, worker liveness and
# result_ttl are measured on (Redis >= 5 replicates a script's effects, so a script may
# read TIME before it writes).
SERVER_NOW = """
local function server_now()
    local time = redis.call('TIME')
    return tonumber(time[1]) + tonumber(time[2]) / 1000000
end
"""

# Moves a job from one status's set to another's (and out of the heartbeats when it
# stops running): the prelude of every script that changes a status. ``seq`` and
# ``ttl`` are the job's fields of those names if the caller read them already (nil:
# read here); the field/value pairs after them are set with the status, in one HSET.
MOVE = (
    SERVER_NOW
    + JOB_KEYS
    + DECLARE
    + """
local function move(p, id, job, old, new, seq, ttl, ...)
    if seq == nil then seq = redis.call('HGET', job, 'seq') end
    redis.call('HSET', job, 'status', new, ...)
    redis.call('ZREM', p .. 'status:' .. old, id)
    redis.call('ZADD', p .. 'status:' .. new, seq, id)
    if old == 'running' then redis.call('ZREM', p .. 'beats', id) end
    if new ~= 'running' then  -- it ended: wake whoever waits for it
        redis.call('XADD', p .. 'done', 'MAXLEN', '~', 10000, '*', 'job', id)
        -- where its submitter was is read by START alone, its heartbeat by MARK_LOST
        -- alone while it runs: neither is kept in a long history
        redis.call('HDEL', job, 'cwd', 'sys_path', 'heartbeat', 'retry_at')
        -- a hash that once held a value longer than the server's hash-max-listpack-value
        -- (64 bytes: the submitter's cwd and sys.path) stays a hashtable when it is gone,
        -- ~1.4 KB for a no-op job where a listpack takes ~0.5 KB: made again, the hash
        -- of a long history is packed as if it had never held them
        if redis.call('OBJECT', 'ENCODING', job) == 'hashtable' then
            local fields = redis.call('HGETALL', job)
            redis.call('DEL', job)
            redis.call('HSET', job, unpack(fields))
        end
        if ttl == nil then ttl = redis.call('HGET', job, 'result_ttl') end
        ttl = tonumber(ttl)
        if ttl then  -- the job's result_ttl: forget it then (swept from the sets on a read)
            local expires_at = server_now() + ttl
            redis.call('ZADD', p .. 'expires', expires_at, id)
            for _, key in ipairs(job_keys(p, id)) do
                redis.call('EXPIREAT', key, math.ceil(expires_at))
            end
        end
        release_dependents(p, id)  -- (redis_dependencies.py)
    end
end
"""
    + RELEASE
)

# (One HMGET reads what it needs: a start is a handful of commands on the server.) A
# start asked again by the worker that made it is answered again: the server may have
# run it and died before its answer reached the worker (killed, restarted from its
# AOF), which then asks again; answered "taken", it would never run the job, and the
# job would stay running, beating no heartbeat, until it was found lost.
START = (
    MOVE
    + """
local p, id, now, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local job = p .. 'job:' .. id
local found = redis.call('HMGET', job, 'status', 'seq', 'timeout', 'cwd', 'sys_path', 'worker',
                         'retry_at')
if found[1] == 'running' and found[6] == worker then
    return {1, {found[3], found[4], found[5]}}
end
if found[1] ~= 'queued' or found[7] then return false end  -- (retry_at: not due yet)
local beat = server_now()
move(p, id, job, 'queued', 'running', found[2], false,
     'started', now, 'heartbeat', beat, 'worker', worker)
redis.call('ZADD', p .. 'beats', beat, id)
return {1, {found[3], found[4], found[5]}}
"""
)

# Numbers newly added jobs in the order they came (one INCRBY for the lot) and files
# them in the pages' sorted sets: run inside the MULTI that writes their hashes, so
# that a submit is one round trip.
INDEX = """
local p, status = ARGV[1], ARGV[2]
local n = #ARGV - 2
local last = redis.call('INCRBY', p .. 'seq', n)
for i = 3, #ARGV do
    local id, seq = ARGV[i], last - n + i - 2
    redis.call('HSET', p .. 'job:' .. id, 'seq', seq)
    redis.call('ZADD', p .. 'all', seq, id)
    redis.call('ZADD', p .. 'status:' .. status, seq, id)
end
"""

# A job's end, with its outcome: a big one's chunks were written beforehand under a key
# of their own (ARGV[5], with a time to live: never linked, they go), which this renames
# to the job's outcome key (no byte passes through Lua); a small one comes inline
# (ARGV[8]). Returns 0 when the job had already ended (the caller deletes the chunks it
# wrote), -1 when the chunks written beforehand are gone (written again, then retried).
FINISH = (
    MOVE
    + """
local p, id, status, err, staged, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local signature, size, inline = ARGV[7], ARGV[8], ARGV[9]
local job = p .. 'job:' .. id
local found = redis.call('HMGET', job, 'status', 'seq', 'result_ttl', 'progress_total')
local old, total = found[1], found[4]
if old ~= 'queued' and old ~= 'running' then return 0 end
local outcome = p .. 'outcome:' .. id
if staged ~= '' then
    if redis.call('EXISTS', staged) == 0 then return -1 end
    redis.call('RENAME', staged, outcome)
    redis.call('PERSIST', outcome)
else
    redis.call('DEL', outcome)
    redis.call('RPUSH', outcome, inline)
end
-- (linked before the move, whose result_ttl expires every key of the job, this one too)
local fields = {'finished', now, 'outcome_signature', signature, 'outcome_size', size}
if err ~= '' then table.insert(fields, 'error'); table.insert(fields, err) end
if status == 'finished' and total then
    table.insert(fields, 'progress_done'); table.insert(fields, total)
end
move(p, id, job, old, status, found[2], found[3], unpack(fields))
return with_released(1)
"""
)

CANCEL = (
    MOVE
    + """
local p, id, now, err, by = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local job = p .. 'job:' .. id
local old = redis.call('HGET', job, 'status')
if not old then return false end
if old == 'queued' or old == 'waiting' then
    redis.call('HSET', job, 'finished', now, 'error', err, 'cancelled_by', by)
    move(p, id, job, old, 'cancelled')
elseif old == 'running' then
    redis.call('HSET', job, 'cancel_requested', 1, 'cancelled_by', by)
end
return with_released(old)
"""
)

# Every trace of an ended job: its keys (``job_keys``: record, log, payload, outcome),
# its place in the pages (under any ended status: a hash past its EXPIREAT no longer
# says which).
DROP = (
    JOB_KEYS
    + """
local function drop(p, id)
    redis.call('DEL', unpack(job_keys(p, id)))
    redis.call('ZREM', p .. 'all', id)
    redis.call('ZREM', p .. 'expires', id)
    for _, status in ipairs({'finished', 'failed', 'cancelled', 'lost'}) do
        redis.call('ZREM', p .. 'status:' .. status, id)
    end
end
"""
)

FORGET = (
    DROP
    + """
local p, id = ARGV[1], ARGV[2]
local status = redis.call('HGET', p .. 'job:' .. id, 'status')
if status and status ~= 'queued' and status ~= 'running' and status ~= 'waiting' then
    drop(p, id)
end
return status
"""
)

# ``forget`` for a batch of jobs (records/base.py forget_many: a few thousand at most,
# so a script never holds the server long): the ended ones are dropped, as DROP does,
# but with one variadic DEL or ZREM per key for the lot (a slice of IN_ONE_CALL at a
# time: Lua's stack holds ~8,000 arguments), not a call per job and key (a job's
# status is in its hash, so only that status's set is asked); returns the pairs (id,
# status) of those dropped.
FORGET_MANY = (
    JOB_KEYS
    + """
local IN_ONE_CALL = 1000
local function in_slices(command, key, list)
    for first = 1, #list, IN_ONE_CALL do
        local last = math.min(first + IN_ONE_CALL - 1, #list)
        if key then
            redis.call(command, key, unpack(list, first, last))
        else
            redis.call(command, unpack(list, first, last))
        end
    end
end
local p = ARGV[1]
local dropped, ids, keys, of_status = {}, {}, {}, {}
for i = 2, #ARGV do
    local id = ARGV[i]
    local status = redis.call('HGET', p .. 'job:' .. id, 'status')
    if status and status ~= 'queued' and status ~= 'running' and status ~= 'waiting' then
        dropped[#dropped + 1] = id
        dropped[#dropped + 1] = status
        ids[#ids + 1] = id
        for _, key in ipairs(job_keys(p, id)) do keys[#keys + 1] = key end
        of_status[status] = of_status[status] or {}
        table.insert(of_status[status], id)
    end
end
in_slices('DEL', nil, keys)
in_slices('ZREM', p .. 'all', ids)
in_slices('ZREM', p .. 'expires', ids)
for status, its_ids in pairs(of_status) do
    in_slices('ZREM', p .. 'status:' .. status, its_ids)
end
return dropped
"""
)

# The ids among a slice of an ended status's set (by seq, after ARGV[3], ARGV[4] of
# them at most) that ended before ARGV[5] (or, never started, were submitted before
# it): what a prune deletes next (records/base.py ended_before). Returns the seq of the
# last id read (none: the set is read to its end), then those ids.
ENDED_BEFORE = """
local key, after, most, before = ARGV[1] .. 'status:' .. ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local found = redis.call('ZRANGEBYSCORE', key, after, '+inf', 'WITHSCORES', 'LIMIT', 0, most)
if #found == 0 then return {} end
local older = {found[#found]}
before = tonumber(before)
for i = 1, #found, 2 do
    local id = found[i]
    local times = redis.call('HMGET', ARGV[1] .. 'job:' .. id, 'finished', 'submitted')
    local at = tonumber(times[1] or times[2])
    if at and at < before then older[#older + 1] = id end
end
return older
"""

# A job's log within its log_bytes_kept (records/log_bounds.py, whose Python twin
# split_append the SQLite store uses): its head (log:<id>, a string, appended until it
# holds its share), then its tail (logtail:<id>, a list of chunks, the oldest popped
# while it holds more than its share); the job's hash counts the bytes written and those
# the tail holds. Cuts fall between UTF-8 characters. A job the store no longer holds
# gets no log (its keys would never expire).
LOG = """
local function continues(s, i)  -- the byte at i continues a UTF-8 character
    local b = s:byte(i)
    return b ~= nil and b >= 128 and b < 192
end
local function character_cut(s, at)  -- the largest cut <= at between characters
    if at > #s then at = #s end
    while at > 0 and at < #s and continues(s, at + 1) do at = at - 1 end
    return at
end
local function append_log(p, id, text, default_kept, chunk_most)
    local job = p .. 'job:' .. id
    if redis.call('EXISTS', job) == 0 then return 0 end
    local kept = tonumber(redis.call('HGET', job, 'log_kept')) or tonumber(default_kept)
    local head_most = math.floor(kept / 4)
    local tail_most = kept - head_most
    local chunk = math.max(256, math.min(tonumber(chunk_most), math.floor(tail_most / 16)))
    local head_key, tail_key = p .. 'log:' .. id, p .. 'logtail:' .. id
    local tail = tonumber(redis.call('HGET', job, 'log_tail')) or 0
    local from = 1
    if tail == 0 then
        local head = redis.call('STRLEN', head_key)
        if head < head_most then
            local cut = character_cut(text, head_most - head)
            if cut > 0 then redis.call('APPEND', head_key, text:sub(1, cut)) end
            from = cut + 1
        end
    end
    if #text - from + 1 > tail_most then  -- only its end can stay in the tail
        from = #text - tail_most + 1
        while continues(text, from) do from = from + 1 end
    end
    while from <= #text do
        local stop = character_cut(text, math.min(#text, from + chunk - 1))
        if stop < from then stop = math.min(#text, from + chunk - 1) end
        redis.call('RPUSH', tail_key, text:sub(from, stop))
        tail = tail + stop - from + 1
        from = stop + 1
    end
    while tail > tail_most do
        tail = tail - #redis.call('LPOP', tail_key)
    end
    redis.call('HINCRBY', job, 'log_written', #text)
    redis.call('HSET', job, 'log_tail', tail, 'log_kept', kept)
    return 1
end
"""

# An append of ARGV[5] (of any length: only what is kept is written).
APPEND_LOG = (
    LOG
    + """
return append_log(ARGV[1], ARGV[2], ARGV[5], ARGV[3], ARGV[4])
"""
)

# The end of a job's log for a tail read, in one look: its counters and the head's
# length, then the tail's chunks newest first until they hold more than ARGV[3] line
# breaks or ARGV[4] bytes, then (if that was not enough) the head's end, read in
# windows growing fourfold, newest first.
LOG_TAIL = """
local p, id, lines, most = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local job = p .. 'job:' .. id
local head_key, tail_key = p .. 'log:' .. id, p .. 'logtail:' .. id
local state = redis.call('HMGET', job, 'log_written', 'log_tail', 'log_kept')
local head_len = redis.call('STRLEN', head_key)
local breaks, size = 0, 0
local tail_pieces, head_pieces = {}, {}
local function enough() return breaks > lines or size >= most end
local count = redis.call('LLEN', tail_key)
local i = count - 1
while i >= 0 and not enough() do
    local piece = redis.call('LINDEX', tail_key, i)
    table.insert(tail_pieces, piece)
    breaks = breaks + select(2, string.gsub(piece, '\\n', ''))
    size = size + #piece
    i = i - 1
end
local stop, window = head_len, 4096
while stop > 0 and not enough() do
    local start = math.max(0, stop - window)
    local piece = redis.call('GETRANGE', head_key, start, stop - 1)
    table.insert(head_pieces, piece)
    breaks = breaks + select(2, string.gsub(piece, '\\n', ''))
    size = size + #piece
    stop, window = start, window * 4
end
return {state, head_len, tail_pieces, head_pieces}
"""

# A running job back to queued (its worker stopped before it ended), with why in its log.
REQUEUE = (
    LOG
    + """
local p, id, text, default_kept, chunk_most = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local job = p .. 'job:' .. id
if redis.call('HGET', job, 'status') ~= 'running' then return 0 end
redis.call('HSET', job, 'status', 'queued')
redis.call('HDEL', job, 'started', 'worker')
redis.call('ZREM', p .. 'status:running', id)
redis.call('ZADD', p .. 'status:queued', redis.call('HGET', job, 'seq'), id)
redis.call('ZREM', p .. 'beats', id)
append_log(p, id, text, default_kept, chunk_most)
return 1
"""
)

# A running job's heartbeat: one round trip, which also brings back a cancel request.
# A job forgotten meanwhile (lost, then forgotten, while its worker still ran) is not
# made again by its beats.
HEARTBEAT = (
    SERVER_NOW
    + """
local p, id = ARGV[1], ARGV[2]
local job = p .. 'job:' .. id
if redis.call('EXISTS', job) == 0 then return false end
local now = server_now()
redis.call('HSET', job, 'heartbeat', now)
redis.call('ZADD', p .. 'beats', 'XX', now, id)  -- only while running
return redis.call('HGET', job, 'cancel_requested')
"""
)

# Progress, which is a heartbeat too; ARGV[4] holds the fields as JSON (a null deletes
# its field: it reads as None).
PROGRESS = (
    SERVER_NOW
    + """
local p, id, done = ARGV[1], ARGV[2], ARGV[3]
local job = p .. 'job:' .. id
if redis.call('EXISTS', job) == 0 then return 0 end
local now = server_now()
redis.call('HSET', job, 'progress_done', done, 'heartbeat', now)
for name, value in pairs(cjson.decode(ARGV[4])) do
    if value == cjson.null then
        redis.call('HDEL', job, name)
    else
        redis.call('HSET', job, name, value)
    end
end
redis.call('ZADD', p .. 'beats', 'XX', now, id)
return 1
"""
)

MARK_LOST = (
    MOVE
    + DROP
    + LOG
    + RETRY_LOST
    + """
local p, lost_after, err = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now = server_now()
local gone = redis.call('ZRANGEBYSCORE', p .. 'expires', '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(gone) do  -- past their result_ttl
    drop(p, id)
end
local ids = redis.call('ZRANGEBYSCORE', p .. 'beats', '-inf', '(' .. (now - lost_after))
for _, id in ipairs(ids) do
    local job = p .. 'job:' .. id
    if redis.call('HGET', job, 'status') == 'running' then
        local beat = redis.call('HGET', job, 'heartbeat')  -- (read first: move drops it)
        if not retry_lost(p, id, job, err) then  -- (attempts left: queued again)
            move(p, id, job, 'running', 'lost', nil, nil, 'finished', beat, 'error', err)
        end
    else
        redis.call('ZREM', p .. 'beats', id)
    end
end
return with_released(#ids)
"""
)

# Retries (redis_retries.py): a failed run put back, and the due ones taken.
RETRY_RUN = SERVER_NOW + LOG + RETRY
TAKE_DUE_RETRIES = SERVER_NOW + TAKE_DUE
