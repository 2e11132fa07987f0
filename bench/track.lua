-- wrk script for bench/ingest (run by bench/ingest/wrk.py): N `POST /v1/track` calls, one
-- event each, then stop.
--
--   wrk -t T -c C -d LIMIT -H "Authorization: Bearer KEY" -s bench/track.lua URL \
--       -- IDS_FILE PREFIX N T
--
-- Event n (0 <= n < N) has messageId PREFIX-n and the userId on line n % L + 1 of IDS_FILE
-- (the leads' external ids), as spread() in bench/ingest/load.py builds them, so each lead
-- gets the same number of events as its bare workflow gets signals in the floor. Thread i sends
-- n = i, i + T, i + 2T, ...
--
-- Exactly N requests, so the bench can check the store holds as many events as got a 2xx:
-- delay() is called once before each request a connection sends (wrk also calls request()
-- once at start-up to check the script, before any delay(), and drops what it returns); once a thread has sent
-- its share, its connections wait instead of sending, and when the last answer is in the
-- thread stops and says so on stderr. wrk's main thread sleeps for -d whatever its threads
-- do, so bench/ingest/wrk.py then sends it SIGINT, and done() prints one JSON line.

local threads = {}

function setup(thread)
   thread:set("index", #threads)
   table.insert(threads, thread)
end

function init(args)
   ids = {}
   for line in io.lines(args[1]) do
      if line ~= "" then
         table.insert(ids, line)
      end
   end
   prefix, total, stride = args[2], tonumber(args[3]), tonumber(args[4])
   share = math.max(0, math.floor((total - index + stride - 1) / stride))
   issued, made, answered, ok, new = 0, 0, 0, 0, 0
   wrk.headers["Content-Type"] = "application/json"
   if share == 0 then
      stopped()
   end
end

function delay()
   if issued >= share then
      return 3600000 -- this thread has sent its share: the connection waits (ms)
   end
   issued = issued + 1
   return 0
end

local BODY = '{"type":"track","messageId":"%s-%d","userId":"%s","event":"Bench Event",'
   .. '"properties":{"n":%d,"plan":"pro"},"context":{"page":{"url":'
   .. '"https://bench.example.com/pricing"},"library":{"name":"wrk","version":"4.1.0"}},'
   .. '"timestamp":"%s"}'

function request()
   if issued == 0 then
      return wrk.format("GET", "/healthz") -- wrk's start-up check, never sent
   end
   -- Its own count: several connections may pass delay() before the first sends.
   local n = index + made * stride
   made = made + 1
   local body = string.format(
      BODY, prefix, n, ids[n % #ids + 1], n, os.date("!%Y-%m-%dT%H:%M:%SZ")
   )
   return wrk.format("POST", "/v1/track", nil, body)
end

function response(status, headers, body)
   answered = answered + 1
   if status >= 200 and status < 300 then
      ok = ok + 1
      new = new + (tonumber(string.match(body, '"new":(%d+)')) or 0)
   end
   if answered == share then
      stopped()
   end
end

function stopped()
   io.stderr:write("track.lua: thread done\n")
   io.stderr:flush()
   wrk.thread:stop()
end

function done(summary, latency, requests)
   local sums = { share = 0, issued = 0, answered = 0, ok = 0, new = 0 }
   for _, thread in ipairs(threads) do
      for name, value in pairs(sums) do
         sums[name] = value + (thread:get(name) or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      '{"duration_us":%d,"requests":%d,"share":%d,"issued":%d,"answered":%d,"ok":%d,'
         .. '"new":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
      summary.duration, summary.requests, sums.share, sums.issued, sums.answered, sums.ok,
      sums.new, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max, latency.mean
   ))
end
