-- 95 % reads of the list, 5 % adds, each add with a valid CSRF token and cookie and
-- followed by the browser's redirect back to the list, carrying the flash message's cookie.
local token = os.getenv("BENCH_CSRF_TOKEN")
local cookie = os.getenv("BENCH_CSRF_COOKIE_NAME") .. "=" .. os.getenv("BENCH_CSRF_COOKIE")
local counter = 0
local follow = nil

request = function()
  if follow then
    local headers = {}
    headers["Cookie"] = cookie .. "; " .. follow
    follow = nil
    return wrk.format("GET", "/", headers)
  end
  counter = counter + 1
  if counter % 20 == 0 then
    local body = "csrfmiddlewaretoken=" .. token .. "&name=bench+task+" .. counter
    local headers = {}
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["Cookie"] = cookie
    return wrk.format("POST", "/add", headers, body)
  end
  return wrk.format("GET", "/")
end

response = function(status, headers, body)
  if status == 302 then
    local set_cookie = headers["Set-Cookie"] or ""
    follow = string.match(set_cookie, "^([^;]*)") or ""
  end
end
