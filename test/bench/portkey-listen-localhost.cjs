// Preload for the Portkey gateway (`node --require`): it has no host option and listens on every interface;
// this makes every server listen on 127.0.0.1 when no host is given, so the benchmark stays on loopback.
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args.length && typeof args[0] === "object" && args[0] !== null && !Array.isArray(args[0])) {
    if (args[0].port !== undefined && !args[0].host && !args[0].path) args[0] = { ...args[0], host: "127.0.0.1" };
  } else if (typeof args[0] === "number" || (typeof args[0] === "string" && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== "string") args.splice(1, args[1] === undefined ? 1 : 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
