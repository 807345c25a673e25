-- wrk script for bench_graphql.py: GraphQL `ask` mutations with distinct questions, as an integrator sends
-- them. bench_graphql.py fills in KEY and PATH (the API key and /graphql, or the baseline's /ask).
-- Each request is a new question; every 5 questions of a thread come from the same end user (userId), so
-- conversations have some history, as a real integrator's users do. A response counts as an answer only
-- when it is 200 and its body is an `Answer` (not an `AnswerFailure` or an error).

local key = "@KEY@"
local path = "@PATH@"
local query = "mutation Ask($input: AskInput!) { ask(input: $input) { __typename"
  .. " ... on Answer { text language provider grounded sources { title section url } conversationId messageId latencyMs }"
  .. " ... on AnswerFailure { code message } } }"
local questions = {
  "How do I connect Telegram",
  "How does Otvet answer",
  "How do I add training data",
  "What languages does Otvet speak",
  "Как подключить Telegram",
  "Как Otvet отвечает",
  "Как добавить обучающие данные",
  "Что такое версии базы знаний",
}
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

counter = 0
answers = 0
failures = 0
sample = ""

function request()
  counter = counter + 1
  local question = questions[(counter % #questions) + 1] .. " (" .. tid .. "-" .. counter .. ")?"
  local user = "bench-" .. tid .. "-" .. math.floor(counter / 5)
  local body = '{"query":"' .. query .. '","variables":{"input":{"question":"' .. question
    .. '","userId":"' .. user .. '"}}}'
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 200 and body:find('"__typename":%s*"Answer"') then
    answers = answers + 1
  else
    failures = failures + 1
    if sample == "" then
      sample = status .. " " .. string.sub(body, 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local ok, failed, sample_body = 0, 0, ""
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("answers")
    failed = failed + thread:get("failures")
    if sample_body == "" then
      sample_body = thread:get("sample")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"duration_us":%d,"requests":%d,"answers":%d,"failures":%d,"socket_errors":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.duration, summary.requests, ok, failed, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  io.write("WRK_SAMPLE " .. sample_body:gsub("\n", " ") .. "\n")
end
