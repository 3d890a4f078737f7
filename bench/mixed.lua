-- 95 % reads of the list, 5 % adds, each add with a valid CSRF token and cookie.
local token = os.getenv("BENCH_CSRF_TOKEN")
local cookie = os.getenv("BENCH_CSRF_COOKIE")
local counter = 0

request = function()
  counter = counter + 1
  if counter % 20 == 0 then
    local body = "csrfmiddlewaretoken=" .. token .. "&name=bench+task+" .. counter
    local headers = {}
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["Cookie"] = "csrftoken=" .. cookie
    return wrk.format("POST", "/add", headers, body)
  end
  return wrk.format("GET", "/")
end
