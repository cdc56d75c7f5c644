"""Cognito's SRP-6a sign-in (USER_SRP_AUTH): the server side for moto (moto_patches/cognito_idp.py),
and the client side (client_sign_in) for the local tools and tests that sign in as the console
does (console_users.py sign-in, console/tests/fixtures.py).

moto 5.2 answers USER_SRP_AUTH with a PASSWORD_VERIFIER challenge whose SRP_B and SALT are random
strings, and accepts any PASSWORD_CLAIM_SIGNATURE: every password signs in. This module computes
what Cognito computes (the group, hashes and key derivation of amazon-cognito-identity-js's
AuthenticationHelper, which AWS's SDKs share), so a wrong password is refused locally as in AWS.

moto keeps the password itself, so the verifier v = g^x is derived at each sign-in:
    x = H(pad(salt) | H(poolName | userIdForSrp | ":" | password))
    B = k*v + g^b,  u = H(pad(A) | pad(B)),  S = (A * v^u)^b
    key = HKDF(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key")[:16]
    PASSWORD_CLAIM_SIGNATURE = base64(HMAC(key, poolName | userIdForSrp | SECRET_BLOCK bytes | TIMESTAMP))
where poolName is the user pool id after "_", and pad() is the two's-complement hex of the SDK.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timezone

# RFC 5054's 3072-bit group, the one Cognito uses.
N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key"


def pad_hex(value: int) -> str:
    """The SDK's padHex: even-length hex, with a 00 byte in front when the top bit is set."""
    text = format(value, "x")
    if len(text) % 2:
        text = "0" + text
    if text[0] in "89abcdef":
        text = "00" + text
    return text


def hex_hash(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


K = int(hex_hash(pad_hex(N) + pad_hex(G)), 16)


def password_x(pool_name: str, user_id: str, password: str, salt: int) -> int:
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).hexdigest()
    return int(hex_hash(pad_hex(salt) + inner), 16)


def hkdf(ikm: bytes, salt: bytes) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, INFO + b"\x01", hashlib.sha256).digest()[:16]


def claim_signature(key: bytes, pool_name: str, user_id: str, secret_block: str, timestamp: str) -> str:
    message = pool_name.encode() + user_id.encode() + base64.b64decode(secret_block) + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


class ServerSession:
    """One USER_SRP_AUTH sign-in: the challenge's SALT and SRP_B, then the expected signature."""

    def __init__(self, user_pool_id: str, user_id: str, password: str, srp_a: str):
        self.pool_name = user_pool_id.split("_", 1)[1]
        self.user_id = user_id
        self.a = int(srp_a, 16)
        if self.a % N == 0:
            raise ValueError("SRP_A is 0 mod N")
        self.salt = int.from_bytes(secrets.token_bytes(16), "big")
        x = password_x(self.pool_name, user_id, password, self.salt)
        self.v = pow(G, x, N)
        while True:
            self.b = secrets.randbelow(N - 1) + 1
            self.big_b = (K * self.v + pow(G, self.b, N)) % N
            if self.big_b:
                break
        self.u = int(hex_hash(pad_hex(self.a) + pad_hex(self.big_b)), 16)
        if self.u == 0:
            raise ValueError("u is 0")
        s = pow(self.a * pow(self.v, self.u, N) % N, self.b, N)
        self.key = hkdf(bytes.fromhex(pad_hex(s)), bytes.fromhex(pad_hex(self.u)))
        # Base64, as the SDKs decode it (moto's own SECRET_BLOCK, a UUID, is not).
        self.secret_block = base64.b64encode(secrets.token_bytes(64)).decode()

    def challenge(self) -> dict[str, str]:
        return {"SALT": format(self.salt, "x"), "SRP_B": format(self.big_b, "x"), "SECRET_BLOCK": self.secret_block}

    def verifies(self, user_id: str, timestamp: str, signature: str) -> bool:
        if user_id != self.user_id or not timestamp or not signature:
            return False
        expected = claim_signature(self.key, self.pool_name, self.user_id, self.secret_block, timestamp)
        return hmac.compare_digest(expected, signature)


def client_signature(user_pool_id: str, user_id: str, password: str, challenge: dict, a: int,
                     timestamp: str) -> str:
    """What a client (the SDK) sends: PASSWORD_CLAIM_SIGNATURE from the challenge."""
    pool_name = user_pool_id.split("_", 1)[1]
    big_a = pow(G, a, N)
    big_b = int(challenge["SRP_B"], 16)
    salt = int(challenge["SALT"], 16)
    u = int(hex_hash(pad_hex(big_a) + pad_hex(big_b)), 16)
    x = password_x(pool_name, user_id, password, salt)
    s = pow((big_b - K * pow(G, x, N)) % N, a + u * x, N)
    key = hkdf(bytes.fromhex(pad_hex(s)), bytes.fromhex(pad_hex(u)))
    return claim_signature(key, pool_name, user_id, challenge["SECRET_BLOCK"], timestamp)


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def client_timestamp(now: datetime) -> str:
    """TIMESTAMP as the SDK writes it ("Fri Nov 6 09:05:01 UTC 2026"; the day unpadded, English
    names whatever the locale)."""
    now = now.astimezone(timezone.utc)
    return f"{DAYS[now.weekday()]} {MONTHS[now.month - 1]} {now.day} {now:%H:%M:%S} UTC {now.year}"


def client_sign_in(idp, user_pool_id: str, client_id: str, username: str, password: str) -> dict:
    """A USER_SRP_AUTH sign-in as the console makes it: InitiateAuth, then the PASSWORD_VERIFIER
    answer. `idp` is a boto3 cognito-idp client. Returns RespondToAuthChallenge's reply: its
    AuthenticationResult, or the next challenge (NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA)."""
    a = secrets.randbelow(N - 2) + 2
    first = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                              AuthParameters={"USERNAME": username, "SRP_A": format(pow(G, a, N), "x")})
    challenge = first["ChallengeParameters"]
    user_id = challenge["USER_ID_FOR_SRP"]
    timestamp = client_timestamp(datetime.now(timezone.utc))
    signature = client_signature(user_pool_id, user_id, password, challenge, a, timestamp)
    return idp.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", Session=first.get("Session", ""),
        ChallengeResponses={"USERNAME": user_id, "TIMESTAMP": timestamp,
                            "PASSWORD_CLAIM_SECRET_BLOCK": challenge["SECRET_BLOCK"],
                            "PASSWORD_CLAIM_SIGNATURE": signature})
