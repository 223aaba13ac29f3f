// The njs signer that make bench compares the module with: NCP signature
// v2 over the client's request-target, no checks, nothing stripped.  The
// timestamp is taken once per request and kept in $njs_ts_value, so that
// the header and the signature agree however often nginx asks for them.

var crypto = require('crypto');

function timestamp(r) {
    if (!r.variables.njs_ts_value) {
        r.variables.njs_ts_value = String(Date.now());
    }

    return r.variables.njs_ts_value;
}

function signature(r) {
    var message = r.method + ' ' + r.variables.request_uri + '\n'
                  + timestamp(r) + '\n' + r.variables.njs_access_key;

    return crypto.createHmac('sha256', r.variables.njs_secret)
                 .update(message).digest('base64');
}

export default { timestamp, signature };
