// Signs Telegram Mini App init data with @telegram-apps/init-data-node (an implementation independent of ours).
// stdin: {"token": "...", "authDate": <unix seconds>, "data": {...SignData}, "thirdParty": {"botId": <id>}?}
// stdout: {"initData": "...", "publicKeyHex": "..."?}. With thirdParty, Node's own Ed25519 key signs
// "{botId}:WebAppData\n" + the sorted pairs (standing in for Telegram's key, whose private half nobody has).
import { sign } from "@telegram-apps/init-data-node";
import { generateKeyPairSync, sign as edSign } from "node:crypto";

const input = JSON.parse(await new Promise(resolve => {
  let text = "";
  process.stdin.on("data", chunk => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

try {
  const authDate = new Date(input.authDate * 1000);
  let initData = sign(input.data, input.token, authDate);
  const answer = {};
  if (input.thirdParty) {
    const params = new URLSearchParams(initData);
    params.delete("hash");
    params.delete("signature"); // the library writes an empty one when none is given
    const pairs = [...params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
    const message = Buffer.from(`${input.thirdParty.botId}:WebAppData\n${pairs.join("\n")}`, "utf8");
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const signature = edSign(null, message, privateKey).toString("base64url");
    initData = sign({ ...input.data, signature }, input.token, authDate);
    answer.publicKeyHex = publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("hex");
  }
  answer.initData = initData;
  process.stdout.write(JSON.stringify(answer));
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e && e.message || e) }));
  process.exitCode = 2;
}
