//! Lowercase hex, the one encoding of digests and signatures in this system (SHA-256 of manifests,
//! SigV4 hashes and signatures). Written here rather than taken from a crate: the signer's hot loop
//! needs the allocation-free form, and the rest is two lines over it.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out`, which must be exactly twice as long.
pub fn encode_into(bytes: &[u8], out: &mut [u8]) {
    assert_eq!(out.len(), 2 * bytes.len(), "hex output must be twice the input");
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[(b >> 4) as usize];
        out[2 * i + 1] = DIGITS[(b & 0xf) as usize];
    }
}

/// `bytes` as a lowercase hex string.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0; 2 * bytes.len()];
    encode_into(bytes, &mut out);
    String::from_utf8(out).expect("hex digits are ASCII")
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_lowercase_two_digits_a_byte() {
        assert_eq!(super::encode(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::encode(&[]), "");
        let mut out = [0u8; 4];
        super::encode_into(&[0xde, 0xad], &mut out);
        assert_eq!(&out, b"dead");
    }
}
