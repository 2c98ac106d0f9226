// A tiny ZWS 2.0 client (ZeroMQ RFC 45) on the browser's own WebSocket API: enough to
// be a REQ socket talking to an mqsdk (or libzmq) REP or ROUTER over ws://.
//
// ZWS maps each ZMTP frame to one binary WebSocket message whose first byte is a flag:
// 0 = last frame of a message, 1 = more frames follow, 2 = a command. A browser can only
// ask for the "ZWS2.0" subprotocol (its WebSocket API refuses the "/" of "ZWS2.0/NULL"):
// no mechanism and no commands; each side's first message is its routing id, and
// everything after it is ordinary messages.

const LAST = 0, MORE = 1;

function frame(flag, text) {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(1 + bytes.length);
  out[0] = flag;
  out.set(bytes, 1);
  return out;
}

// Connect as REQ; resolves to an object with request(text) -> Promise<reply text>.
export function connectReq(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ["ZWS2.0"]);
    ws.binaryType = "arraybuffer";
    let routingIdSeen = false;
    let frames = [];
    let waiting = null;
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    ws.onopen = () => {
      ws.send(frame(LAST, "")); // our routing id: none
      resolve({
        request(text) {
          return new Promise((answer) => {
            waiting = answer;
            ws.send(frame(MORE, "")); // REQ's empty delimiter frame
            ws.send(frame(LAST, text)); // the request itself
          });
        },
        close() { ws.close(1000); },
      });
    };
    ws.onmessage = (event) => {
      const data = new Uint8Array(event.data);
      if (!routingIdSeen) {
        routingIdSeen = true; // the server's routing id message comes first
        return;
      }
      frames.push(data.subarray(1));
      if (data[0] === LAST) {
        const body = frames[frames.length - 1]; // after REP's delimiter
        frames = [];
        if (waiting) waiting(new TextDecoder().decode(body));
      }
    };
  });
}
