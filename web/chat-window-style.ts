/** The chat window's CSS (in the loader's shadow root). Inputs are 16 px so that phones do not zoom in; full screen below 600 px. */
export const STYLE = `
.panel{position:fixed;right:20px;bottom:84px;z-index:2147483001;width:360px;height:min(540px,calc(100vh - 110px));display:flex;flex-direction:column;background:#fff;color:#111;border-radius:12px;box-shadow:0 8px 30px #0005;overflow:hidden;font:16px/1.4 system-ui,sans-serif}
.panel[hidden]{display:none}
header{display:flex;align-items:center;gap:8px;background:var(--lc);color:var(--lc-text);padding:10px 12px}
h2{flex:1;margin:0;font-size:17px}
header button{font:inherit;font-size:14px;background:transparent;color:inherit;border:1px solid currentColor;border-radius:6px;padding:4px 10px;cursor:pointer}
header .close{border:0;font-size:18px;padding:4px 8px}
button:focus-visible,input:focus-visible,textarea:focus-visible,select:focus-visible,a:focus-visible{outline:3px solid #111;outline-offset:2px}
header button:focus-visible{outline-color:var(--lc-text)}
.notice{font-size:14px;color:#333;background:#eef1f8;padding:0 12px}
.notice:not(:empty){padding:6px 12px}
.network{font-size:14px;color:#111;background:#ffe8a3;padding:0 12px}
.network:not(:empty){padding:6px 12px}
.body{flex:1;overflow-y:auto;display:flex;flex-direction:column;background:#f5f6f8}
.greeting{margin:12px 14px 0;padding:9px 12px;background:#fff;border:1px solid #d5d8e0;border-radius:10px;white-space:pre-wrap}
form.prechat,form.offline{display:flex;flex-direction:column;gap:10px;padding:14px}
label{display:flex;flex-direction:column;gap:4px;font-size:15px;color:#222}
input,textarea,select{font:16px system-ui,sans-serif;padding:8px;border:1px solid #767b87;border-radius:6px;color:#111;background:#fff}
[aria-invalid=true]{border-color:#b00020}
.primary{border:0;border-radius:6px;background:var(--lc);color:var(--lc-text);padding:9px 14px;font:600 16px system-ui,sans-serif;cursor:pointer}
.primary:disabled{opacity:.7}
.log{flex:1;padding:10px;display:flex;flex-direction:column;gap:8px}
.msg{max-width:82%;padding:7px 10px;border-radius:10px;word-wrap:break-word}
.msg p{margin:0;white-space:pre-wrap}
.msg .who{display:block;font-size:13px;font-weight:600;color:#333}
.msg .meta{display:flex;gap:6px;justify-content:flex-end;font-size:12px;margin-top:2px;opacity:.9}
.msg.visitor{align-self:flex-end;background:var(--lc);color:var(--lc-text)}
.msg.visitor a{color:inherit}
.msg.agent{align-self:flex-start;background:#fff;border:1px solid #d5d8e0}
.msg.agent a{color:#1a44b8}
.msg.system{align-self:center;background:none;color:#444;font-size:13px;text-align:center}
.msg.pending{background:#fff;color:#111;border:2px dashed #555}
.msg.pending a{color:#1a44b8}
.ended{padding:14px;display:flex;flex-direction:column;gap:10px;align-items:flex-start}
.ended p{margin:0}
.stars{display:flex;gap:4px}
.stars button{font-size:24px;line-height:1;background:#fff;color:#7a5a00;border:1px solid #767b87;border-radius:6px;padding:4px 8px;cursor:pointer}
.typing{font-size:14px;color:#333;padding:4px 12px;font-style:italic}
.error{font-size:14px;color:#9b0018;padding:0 12px}
.error:not(:empty){padding:6px 12px}
form.compose{display:flex;gap:6px;padding:8px;border-top:1px solid #ddd}
form.compose textarea{flex:1;resize:none;height:42px}
.thanks{padding:0 4px}
.announcer{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:600px){.panel{inset:0;width:auto;height:auto;border-radius:0}}
.panel.full{inset:0;width:auto;height:auto;border-radius:0;box-shadow:none}
`;
