#!/usr/bin/env python3
"""serve-hostile.py — throw malformed requests at a running serve
(tests/cli/serve.bats): valid bodies of every endpoint, mutated at random
(fields deleted or given every JSON type, huge and negative numbers, deep
nesting, long strings, invalid UTF-8, truncation, garbage), odd methods and
paths, over keep-alive connections.

    serve-hostile.py PORT COUNT SEED

Every answer must be a complete HTTP response with a known status (200,
400, 404, 405, 413, 503) and, but for 200 streams and /, a JSON body;
the server must still answer /health at the end. Prints "ok N requests,
statuses {...}" and exits 0, or prints the first offending request and
exits 1. Seeded: the same SEED sends the same requests.
"""
import http.client
import json
import random
import sys

PORT, COUNT, SEED = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(SEED)

VALID = {
    "/predict": {"input": "Once upon a time", "max_tokens": 4},
    "/v1/completions": {"model": "m", "prompt": "Once", "max_tokens": 4, "temperature": 0.5,
                        "top_p": 0.9, "stop": ["x"], "seed": 3, "stream": False},
    "/v1/chat/completions": {"messages": [{"role": "system", "content": "Be brief"},
                                          {"role": "user", "content": "Hi"}],
                             "max_tokens": 4, "stream": False,
                             "stream_options": {"include_usage": True}},
    "/api/generate": {"model": "m", "prompt": "The cat", "system": "s", "stream": False,
                      "options": {"num_predict": 4, "temperature": 0.7, "top_k": 5, "stop": "."}},
    "/api/chat": {"model": "m:latest", "messages": [{"role": "user", "content": "Hi"}],
                  "stream": False, "options": {"num_predict": 4, "seed": 1}},
}
GET_PATHS = ["/", "/health", "/metrics", "/v1/models", "/v1/models/m", "/api/tags",
             "/api/version", "/openapi.json", "/docs"]
KNOWN = {200, 400, 404, 405, 413, 503}


def odd_value(depth=0):
    r = rng.randrange(12)
    if r == 0:
        return None
    if r == 1:
        return rng.choice([True, False])
    if r == 2:
        return rng.choice([0, -1, 1, 2**31, -2**63, 2**64, 10**300, 1e-300, 0.5, -0.0])
    if r == 3:
        return "x" * rng.choice([0, 1, 300, 70000])
    if r == 4:
        return "".join(chr(rng.randrange(1, 0x10FFFF)) for _ in range(rng.randrange(20))
                       if not 0xD800 <= rng.randrange(1, 0x10FFFF) < 0xE000)
    if r == 5 and depth < 3:
        return [odd_value(depth + 1) for _ in range(rng.randrange(5))]
    if r == 6 and depth < 3:
        return {rng.choice(["role", "content", "text", "type", "a"]): odd_value(depth + 1)
                for _ in range(rng.randrange(4))}
    if r == 7:
        return [{"role": rng.choice(["user", "assistant", "system", "tool", ""]),
                 "content": rng.choice(["hi", 5, None, [{"type": "text", "text": "t"}],
                                        [{"type": "image"}], ""])}
                for _ in range(rng.randrange(4))]
    if r == 8:
        return "<|story|></|story|><|endoftext|>" * rng.randrange(3)
    return rng.choice(["m", "m:latest", "other", "\n\t\"\\", "Once"])


def mutate(obj):
    o = json.loads(json.dumps(obj))
    for _ in range(rng.randrange(1, 4)):
        target = o
        if isinstance(o.get("options"), dict) and rng.random() < 0.3:
            target = o["options"]
        keys = list(target.keys()) + ["n", "logprobs", "echo", "best_of", "ignore_eos",
                                      "frequency_penalty", "max_completion_tokens", "top_k",
                                      "repetition_penalty", "stream", "options", "format"]
        k = rng.choice(keys)
        if rng.random() < 0.2:
            target.pop(k, None)
        else:
            target[k] = odd_value()
    return o


def body_bytes(path):
    r = rng.random()
    if r < 0.55:
        b = json.dumps(mutate(VALID[path])).encode()
    elif r < 0.65:
        b = json.dumps(VALID[path]).encode()
        b = b[: rng.randrange(len(b))]                     # truncated
    elif r < 0.72:
        b = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))  # garbage
    elif r < 0.78:
        d = rng.randrange(1, 3000)
        b = b"[" * d + b"]" * d                             # deep nesting
    elif r < 0.84:
        b = json.dumps(VALID[path]).encode().replace(b"Once", b"On\xff\xfece")
    elif r < 0.90:
        b = rng.choice([b"", b"null", b"0", b'"s"', b"[]", b"{}", b"{\"a\":"])
    else:
        o = mutate(VALID[path])
        o["stream"] = True
        b = json.dumps(o).encode()
    return b


def check(conn, method, path, body):
    headers = {"Content-Type": rng.choice(["application/json", "text/plain", "x/y"])}
    if rng.random() < 0.1:
        headers["X-Request-Id"] = rng.choice(["ok-id.1", "bad id", "x" * 100, "\u00e9"])
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    where = f"{method} {path} {(body or b'')[:300]!r} -> {resp.status} {data[:300]!r}"
    if resp.status not in KNOWN:
        raise AssertionError("unexpected status: " + where)
    if not resp.getheader("X-Request-Id"):
        raise AssertionError("no X-Request-Id: " + where)
    ctype = resp.getheader("Content-Type") or ""
    if ctype.startswith("application/json"):
        json.loads(data.decode("utf-8"))
    elif ctype.startswith("text/event-stream"):
        if not data.rstrip().endswith(b"data: [DONE]"):
            raise AssertionError("unfinished stream: " + where)
    elif ctype.startswith("application/x-ndjson"):
        lines = data.decode("utf-8").splitlines()
        if not lines or not json.loads(lines[-1]).get("done"):
            raise AssertionError("unfinished NDJSON: " + where)
        for line in lines:
            json.loads(line)
    elif resp.status != 200 or not (path in ("/docs", "/metrics") or
                                    data.startswith(b"runnel serve is running")):
        # ("/%00" reaches / too: libmicrohttpd hands over the path decoded)
        raise AssertionError(f"unexpected Content-Type {ctype!r}: " + where)
    return resp.status, resp.getheader("Connection") == "close"


def main():
    statuses = {}
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    for _ in range(COUNT):
        r = rng.random()
        if r < 0.8:
            path, method = rng.choice(list(VALID)), "POST"
            body = body_bytes(path)
        elif r < 0.9:
            path, method, body = rng.choice(GET_PATHS), rng.choice(["GET", "GET", "HEAD"]), None
        else:
            path = rng.choice(list(VALID) + GET_PATHS + ["/v1/models/" + "z" * 300, "/%00",
                                                         "/api/../health", "//health"])
            method, body = rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "GET", "POST"]), b"{}"
        if method == "HEAD":
            conn.request("HEAD", path)
            resp = conn.getresponse()
            resp.read()
            status, close = resp.status, False
        else:
            status, close = check(conn, method, path, body)
        statuses[status] = statuses.get(status, 0) + 1
        if close or rng.random() < 0.05:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    conn.request("GET", "/health")
    if conn.getresponse().status != 200:
        raise AssertionError("/health does not answer 200 afterwards")
    print("ok", COUNT, "requests, statuses", dict(sorted(statuses.items())))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(e)
        sys.exit(1)
