-- Adds only, each with a valid CSRF token and cookie: how many writes a second the one TaskCount
-- row (every write holds its lock until it commits) lets through.
local token = os.getenv("BENCH_CSRF_TOKEN")
local cookie = os.getenv("BENCH_CSRF_COOKIE_NAME") .. "=" .. os.getenv("BENCH_CSRF_COOKIE")
local counter = 0

request = function()
  counter = counter + 1
  local body = "csrfmiddlewaretoken=" .. token .. "&name=bench+write+" .. counter
  local headers = {}
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["Cookie"] = cookie
  return wrk.format("POST", "/add", headers, body)
end
