"""`make e2e-deploy`: an SMTP sink (port 2525) and a fake Orange SMS API (port 8080) that
record what they receive; GET /_journal returns {"emails": [...], "sms": [...]}."""
import asyncore
import json
import smtpd
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
EMAILS, SMS = [], []


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        with LOCK:
            EMAILS.append({"from": mailfrom, "to": rcpttos, "size": len(data),
                           "subject": next((l[9:] for l in data.decode("utf-8", "replace").splitlines()
                                            if l.lower().startswith("subject: ")), "")})


class Orange(BaseHTTPRequestHandler):
    def _send(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        if self.path == "/_journal":
            with LOCK:
                self._send(200, {"emails": EMAILS, "sms": SMS})
        else:
            self._send(404, {"error": "introuvable"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20))
        if self.path == "/oauth/v3/token":
            self._send(200, {"access_token": "jeton-e2e", "token_type": "Bearer", "expires_in": 3600})
        elif self.path.startswith("/smsmessaging/v1/outbound/"):
            req = json.loads(body or b"{}").get("outboundSMSMessageRequest", {})
            with LOCK:
                SMS.append({"to": req.get("address"),
                            "text": req.get("outboundSMSTextMessage", {}).get("message")})
                n = len(SMS)
            self._send(201, {"outboundSMSMessageRequest": {"resourceURL": f"http://faux/sms/{n}"}})
        else:
            self._send(404, {"error": "introuvable"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    Sink(("0.0.0.0", 2525), None, decode_data=False)
    threading.Thread(target=asyncore.loop, daemon=True).start()
    ThreadingHTTPServer(("0.0.0.0", 8080), Orange).serve_forever()
