/**
 * Lua scripts of the Redis quota store. Each runs atomically inside Redis, so bot processes that
 * share one Redis never admit more requests to a key than its limits allow, together.
 * They implement the rules of storage/quota-rules.ts (the contract suite checks both stores).
 *
 * Per key id K (all under one hash tag so a Redis Cluster keeps them in one slot):
 *   K:min      ZSET  member "reservation|tokens|requests", score = time (ms); the sliding minute
 *   K:day:D    HASH  r = requests, t = tokens on quota day D (expires after two days)
 *   K:learned  HASH  rpm / rpd / tpm / tpd limits the provider announced in headers
 *   K:block    HASH  reason, until (expires at `until`)
 *   K:month:M  HASH  r = requests in quota month M (`2026-11`, the quota day's month; expires after 62 days)
 *   K:hour     HASH  minute bucket (ms / 60000) → tokens, kept only for keys with a tokens-per-hour
 *                    limit (a transcription model's audio seconds); a bucket counts for an hour
 */

import { HOUR_BUCKETS, SLOT_WINDOW_MS } from '../quota-rules';

const COMMON = `
local MINUTE = 60000
-- A minute plus the slot margin (storage/quota-rules.ts): how long a request stays in a window.
local WINDOW = ${SLOT_WINDOW_MS}
local HOUR_BUCKETS = ${HOUR_BUCKETS}
local function limit(configured, learned)
  local l = tonumber(learned)
  if l ~= nil and l > 0 then return l end
  local c = tonumber(configured)
  if c ~= nil and c > 0 then return c end
  return nil
end
local function parse(member)
  local id, tokens, requests = string.match(member, '^(.*)|([^|]*)|([^|]*)$')
  return id, tonumber(tokens) or 0, tonumber(requests) or 0
end
`;

/**
 * KEYS: for each candidate i: min, day, learned, block, month, hour.
 * ARGV: now, tokens, reservationId, count, then for each candidate: rpm, rpd, tpm, tpd, rpmonth, tph, keyId.
 * Returns {1, keyId} or {0, keyId1, reason1, until1, keyId2, …} (until '' when it depends on the day).
 */
export const ACQUIRE_SCRIPT = `${COMMON}
local now = tonumber(ARGV[1])
local tokens = tonumber(ARGV[2])
local reservation = ARGV[3]
local count = tonumber(ARGV[4])
local best = nil
local bestScore = nil
local blocks = {}

local function better(a, b)
  for i = 1, 4 do
    if a[i] < b[i] then return true end
    if a[i] > b[i] then return false end
  end
  return false
end

local currentBucket = math.floor(now / MINUTE)
for i = 1, count do
  local k = (i - 1) * 6
  local kmin, kday, klearned, kblock, kmonth, khour = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5], KEYS[k + 6]
  local a = 4 + (i - 1) * 7
  local keyId = ARGV[a + 7]
  local block = redis.call('HMGET', kblock, 'reason', 'until')
  local blockedUntil = tonumber(block[2])
  if blockedUntil ~= nil and blockedUntil > now then
    table.insert(blocks, keyId); table.insert(blocks, block[1]); table.insert(blocks, tostring(blockedUntil))
  else
    local learned = redis.call('HMGET', klearned, 'rpm', 'rpd', 'tpm', 'tpd')
    local rpm = limit(ARGV[a + 1], learned[1])
    local rpd = limit(ARGV[a + 2], learned[2])
    local tpm = limit(ARGV[a + 3], learned[3])
    local tpd = limit(ARGV[a + 4], learned[4])
    local rpmonth = limit(ARGV[a + 5], nil)
    local requestsThisMonth = tonumber(redis.call('HGET', kmonth, 'r')) or 0
    local tph = limit(ARGV[a + 6], nil)
    -- The hour's buckets, oldest first, read only under a tokens-per-hour limit.
    local buckets = {}
    local tokensLastHour = 0
    if tph ~= nil then
      local raw = redis.call('HGETALL', khour)
      for j = 1, #raw, 2 do
        local bucket, bucketTokens = tonumber(raw[j]), tonumber(raw[j + 1]) or 0
        if bucket <= currentBucket - HOUR_BUCKETS then
          redis.call('HDEL', khour, raw[j])
        else
          table.insert(buckets, { bucket = bucket, tokens = bucketTokens })
          tokensLastHour = tokensLastHour + bucketTokens
        end
      end
      table.sort(buckets, function(x, y) return x.bucket < y.bucket end)
    end
    local day = redis.call('HMGET', kday, 'r', 't')
    local requestsToday = tonumber(day[1]) or 0
    local tokensToday = tonumber(day[2]) or 0
    redis.call('ZREMRANGEBYSCORE', kmin, '-inf', now - WINDOW)
    local entries = {}
    local requestsLastMinute = 0
    local tokensLastMinute = 0
    -- The minute's entries matter only under a per-minute limit. Without one, reading them all
    -- would cost every admission O(requests in the last minute): quadratic under load.
    if rpm ~= nil or tpm ~= nil then
      local raw = redis.call('ZRANGE', kmin, 0, -1, 'WITHSCORES')
      for j = 1, #raw, 2 do
        local _, entryTokens, entryRequests = parse(raw[j])
        local at = tonumber(raw[j + 1])
        table.insert(entries, { at = at, tokens = entryTokens, requests = entryRequests })
        requestsLastMinute = requestsLastMinute + entryRequests
        tokensLastMinute = tokensLastMinute + entryTokens
      end
    end

    local reason = nil
    local untilAt = ''
    if (tpm ~= nil and tokens > tpm) or (tph ~= nil and tokens > tph) then
      reason = 'too_large'
    elseif rpmonth ~= nil and requestsThisMonth + 1 > rpmonth then
      reason = 'monthly'
    elseif rpd ~= nil and requestsToday + 1 > rpd then
      reason = 'rpd'
    elseif tpd ~= nil and tokensToday + tokens > tpd then
      reason = 'tpd'
    elseif tph ~= nil and tokensLastHour + tokens > tph then
      reason = 'tph'
      local remaining = tokensLastHour
      untilAt = tostring((currentBucket + 1) * MINUTE)
      for _, entry in ipairs(buckets) do
        remaining = remaining - entry.tokens
        if remaining + tokens <= tph then untilAt = tostring((entry.bucket + HOUR_BUCKETS) * MINUTE); break end
      end
    elseif rpm ~= nil and requestsLastMinute + 1 > rpm then
      reason = 'rpm'
      local remaining = requestsLastMinute
      untilAt = tostring(now + WINDOW)
      for _, entry in ipairs(entries) do
        remaining = remaining - entry.requests
        if remaining + 1 <= rpm then untilAt = tostring(entry.at + WINDOW); break end
      end
    elseif tpm ~= nil and tokensLastMinute + tokens > tpm then
      reason = 'tpm'
      local remaining = tokensLastMinute
      untilAt = tostring(now + WINDOW)
      for _, entry in ipairs(entries) do
        remaining = remaining - entry.tokens
        if remaining + tokens <= tpm then untilAt = tostring(entry.at + WINDOW); break end
      end
    end

    if reason ~= nil then
      table.insert(blocks, keyId); table.insert(blocks, reason); table.insert(blocks, untilAt)
    else
      local score = {
        rpmonth ~= nil and requestsThisMonth / rpmonth or 0,
        rpd ~= nil and requestsToday / rpd or requestsToday / 1e9,
        rpm ~= nil and requestsLastMinute / rpm or 0,
        tpm ~= nil and tokensLastMinute / tpm or 0,
      }
      if best == nil or better(score, bestScore) then
        best = i
        bestScore = score
      end
    end
  end
end

if best == nil then
  local result = { 0 }
  for _, value in ipairs(blocks) do table.insert(result, value) end
  return result
end
local kmin, kday, kmonth, khour = KEYS[(best - 1) * 6 + 1], KEYS[(best - 1) * 6 + 2], KEYS[(best - 1) * 6 + 5], KEYS[(best - 1) * 6 + 6]
redis.call('ZADD', kmin, now, reservation .. '|' .. tostring(tokens) .. '|1')
redis.call('PEXPIRE', kmin, MINUTE * 2)
redis.call('HINCRBY', kday, 'r', 1)
redis.call('HINCRBY', kday, 't', tokens)
redis.call('PEXPIRE', kday, 2 * 24 * 3600 * 1000)
redis.call('HINCRBY', kmonth, 'r', 1)
redis.call('PEXPIRE', kmonth, 62 * 24 * 3600 * 1000)
if limit(ARGV[4 + (best - 1) * 7 + 6], nil) ~= nil then
  redis.call('HINCRBY', khour, tostring(currentBucket), tokens)
  redis.call('PEXPIRE', khour, MINUTE * (HOUR_BUCKETS + 1))
end
return { 1, ARGV[4 + (best - 1) * 7 + 7] }
`;

/**
 * Settles a batch of reservations. KEYS: per settlement its key's min, day, month and hour. ARGV: per
 * settlement its reservationId, reservedTokens, actualTokens and uncount (1: the provider did not
 * count the request, which then leaves the minute window and the day and month counts).
 */
export const SETTLE_SCRIPT = `${COMMON}
local function correctHour(khour, at, change)
  if change == 0 or redis.call('EXISTS', khour) == 0 then return end
  local field = tostring(math.floor(tonumber(at) / MINUTE))
  local current = tonumber(redis.call('HGET', khour, field))
  if current == nil then return end
  local corrected = current + change
  if corrected < 0 then corrected = 0 end
  redis.call('HSET', khour, field, corrected)
end
for i = 0, #KEYS / 4 - 1 do
  local kmin, kday, kmonth, khour = KEYS[i * 4 + 1], KEYS[i * 4 + 2], KEYS[i * 4 + 3], KEYS[i * 4 + 4]
  local id, reserved, actual = ARGV[i * 4 + 1], tonumber(ARGV[i * 4 + 2]), tonumber(ARGV[i * 4 + 3])
  local uncount = ARGV[i * 4 + 4] == '1'
  local old = id .. '|' .. ARGV[i * 4 + 2] .. '|1'
  local at = redis.call('ZSCORE', kmin, old)
  if at then
    redis.call('ZREM', kmin, old)
    if not uncount then
      local corrected = actual
      if corrected < 0 then corrected = 0 end
      redis.call('ZADD', kmin, at, id .. '|' .. tostring(corrected) .. '|1')
      correctHour(khour, at, corrected - reserved)
    else
      correctHour(khour, at, -reserved)
    end
  end
  if redis.call('EXISTS', kday) == 1 then
    local tokens = tonumber(redis.call('HGET', kday, 't')) or 0
    local corrected = tokens + actual - reserved
    if uncount then corrected = tokens - reserved end
    if corrected < 0 then corrected = 0 end
    redis.call('HSET', kday, 't', corrected)
    if uncount then
      local requests = tonumber(redis.call('HGET', kday, 'r')) or 0
      if requests > 0 then redis.call('HSET', kday, 'r', requests - 1) end
    end
  end
  if uncount then
    local requests = tonumber(redis.call('HGET', kmonth, 'r')) or 0
    if requests > 0 then redis.call('HSET', kmonth, 'r', requests - 1) end
  end
end
return 1
`;

/** KEYS: block. ARGV: reason, until, now. A block ends no earlier than one already in force. */
export const BLOCK_SCRIPT = `
local current = tonumber(redis.call('HGET', KEYS[1], 'until'))
local now = tonumber(ARGV[3])
local untilAt = tonumber(ARGV[2])
if current ~= nil and current > now and current >= untilAt then return 0 end
redis.call('HSET', KEYS[1], 'reason', ARGV[1], 'until', untilAt)
-- Relative to the caller's clock, like every other time here (Redis's own clock may differ).
redis.call('PEXPIRE', KEYS[1], untilAt - now)
return 1
`;

/**
 * KEYS: min, day, learned, block.
 * ARGV: now, then for each window in the order rpm, rpd, tpm, tpd, requests: limit, remaining,
 * resetAt ('' when unknown), then a phantom id prefix.
 */
export const OBSERVE_SCRIPT = `${COMMON}
local now = tonumber(ARGV[1])
local function window(index)
  local base = 2 + index * 3
  return tonumber(ARGV[base]), tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
end
local rpmLimit, rpmRemaining, rpmReset = window(0)
local rpdLimit, rpdRemaining, rpdReset = window(1)
local tpmLimit, tpmRemaining, tpmReset = window(2)
local tpdLimit, tpdRemaining, tpdReset = window(3)
local _, reqRemaining, reqReset = window(4)
local phantom = ARGV[17]

if rpmLimit ~= nil and rpmLimit > 0 then redis.call('HSET', KEYS[3], 'rpm', rpmLimit) end
if rpdLimit ~= nil and rpdLimit > 0 then redis.call('HSET', KEYS[3], 'rpd', rpdLimit) end
if tpmLimit ~= nil and tpmLimit > 0 then redis.call('HSET', KEYS[3], 'tpm', tpmLimit) end
if tpdLimit ~= nil and tpdLimit > 0 then redis.call('HSET', KEYS[3], 'tpd', tpdLimit) end

local function raiseDay(field, limitValue, remaining)
  if limitValue == nil or remaining == nil then return end
  local used = limitValue - remaining
  local current = tonumber(redis.call('HGET', KEYS[2], field)) or 0
  if used > current then
    redis.call('HSET', KEYS[2], field, used)
    redis.call('PEXPIRE', KEYS[2], 2 * 24 * 3600 * 1000)
  end
end
raiseDay('r', rpdLimit, rpdRemaining)
raiseDay('t', tpdLimit, tpdRemaining)

local function phantomAt(resetAt)
  if resetAt == nil then return now end
  return math.min(now, resetAt - WINDOW)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - WINDOW)
local raw = redis.call('ZRANGE', KEYS[1], 0, -1)
local requests, tokens = 0, 0
for _, member in ipairs(raw) do
  local _, entryTokens, entryRequests = parse(member)
  requests = requests + entryRequests
  tokens = tokens + entryTokens
end
local added = 0
if rpmLimit ~= nil and rpmRemaining ~= nil then
  local missing = (rpmLimit - rpmRemaining) - requests
  for i = 1, missing do
    added = added + 1
    redis.call('ZADD', KEYS[1], phantomAt(rpmReset), phantom .. '-' .. added .. '|0|1')
  end
end
if tpmLimit ~= nil and tpmRemaining ~= nil then
  local missing = (tpmLimit - tpmRemaining) - tokens
  if missing > 0 then
    added = added + 1
    redis.call('ZADD', KEYS[1], phantomAt(tpmReset), phantom .. '-' .. added .. '|' .. missing .. '|0')
  end
end
if added > 0 then redis.call('PEXPIRE', KEYS[1], MINUTE * 2) end

local function blockUntil(reason, remaining, resetAt)
  if remaining ~= 0 or resetAt == nil or resetAt <= now then return end
  local current = tonumber(redis.call('HGET', KEYS[4], 'until'))
  if current ~= nil and current > now and current >= resetAt then return end
  redis.call('HSET', KEYS[4], 'reason', reason, 'until', resetAt)
  redis.call('PEXPIRE', KEYS[4], resetAt - now)
end
blockUntil('quota', rpdRemaining, rpdReset)
blockUntil('quota', tpdRemaining, tpdReset)
blockUntil('cooldown', rpmRemaining, rpmReset)
blockUntil('cooldown', tpmRemaining, tpmReset)
blockUntil('cooldown', reqRemaining, reqReset)
return 1
`;
