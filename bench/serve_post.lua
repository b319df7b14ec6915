-- bench/serve_post.lua — wrk script of bench/serve.sh: every request is a
-- POST; the body is $WRK_BODY (sent as application/json) when set and not
-- empty, else there is none (the FastAPI side takes ?input= in the URL).
wrk.method = "POST"
local body = os.getenv("WRK_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
