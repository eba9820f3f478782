"""A stand-in for Telegram's Bot API on 127.0.0.1, for tests of the notifications that use it."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeTelegram:
    """A Bot API stand-in on 127.0.0.1 that records sendMessage calls and can be told to fail."""

    def __init__(self):
        self.requests = []
        self.fail_next = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body})
                if outer.fail_next:
                    outer.fail_next -= 1
                    self.send_response(502)
                    payload = {"ok": False, "description": "Bad Gateway"}
                else:
                    self.send_response(200)
                    payload = {"ok": True, "result": {"message_id": len(outer.requests)}}
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(payload).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
