//! Every way a ciphertext can be wrong gives the one error: `decrypt` at the
//! ACS, "the encrypted assertion could not be decrypted" from inspect. The
//! untampered controls are accepted, so each refusal is the tampering's.

use super::*;
use crate::gen_enc::{modify_b64, Encrypted};

/// The Response with its Assertion signed inside and encrypted as `enc`
/// says, then edited by `edit`.
fn tampered(
    e: &Env,
    s: &Spec,
    enc: &Encryption,
    edit: impl FnOnce(&Encrypted) -> String,
) -> String {
    let xml = sign(
        &s.to_xml(),
        s,
        Signing::Assertion,
        &e.idp.key,
        &SignOptions::default(),
    );
    edit(&encrypt_assertion(&xml, enc))
}

/// Replaces the EncryptedKey's CipherValue by `f` of its bytes.
fn key_bytes(x: &Encrypted, f: impl FnOnce(&mut Vec<u8>)) -> String {
    x.xml
        .replacen(&x.key_cipher_b64, &modify_b64(&x.key_cipher_b64, f), 1)
}

/// Replaces the EncryptedData's CipherValue by `f` of its bytes.
fn data_bytes(x: &Encrypted, f: impl FnOnce(&mut Vec<u8>)) -> String {
    x.xml
        .replacen(&x.data_cipher_b64, &modify_b64(&x.data_cipher_b64, f), 1)
}

fn gcm(e: &Env) -> Encryption {
    e.enc(Content::Aes128Gcm, Transport::OaepMgf1p, KeyPlace::KeyInfo)
}

fn cbc(e: &Env) -> Encryption {
    e.enc(Content::Aes128Cbc, Transport::OaepMgf1p, KeyPlace::KeyInfo)
}

fn flip_middle() -> impl FnOnce(&mut Vec<u8>) {
    |b| {
        let i = b.len() / 2;
        b[i] ^= 0x01;
    }
}

fn flip(i: usize) -> impl FnOnce(&mut Vec<u8>) {
    move |b| b[i] ^= 0x01
}

#[test]
fn tampered_ciphertexts_give_one_uniform_error() {
    let rig = Rig::start(None);
    let d = |name: &'static str, idp: &'static str, build: fn(&Env, Spec) -> String| Case {
        name,
        idp,
        build,
        code: "decrypt",
        reason: DECRYPT,
    };
    rig.run(&[
        Case {
            name: "control: AES-GCM untouched",
            idp: "test",
            build: |e, s| tampered(e, &s, &gcm(e), |x| x.xml.clone()),
            code: "",
            reason: "",
        },
        Case {
            name: "control: AES-CBC untouched (allow_cbc)",
            idp: "test-cbc",
            build: |e, s| tampered(e, &s, &cbc(e), |x| x.xml.clone()),
            code: "",
            reason: "",
        },
        // The key transport.
        d("GCM: a byte of the EncryptedKey flipped", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| key_bytes(x, flip_middle()))
        }),
        d(
            "GCM: the EncryptedKey's last byte flipped",
            "test",
            |e, s| {
                tampered(e, &s, &gcm(e), |x| {
                    key_bytes(x, |b| *b.last_mut().unwrap() ^= 0x80)
                })
            },
        ),
        d("GCM: the EncryptedKey truncated", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| {
                key_bytes(x, |b| b.truncate(b.len() - 1))
            })
        }),
        d(
            "GCM: encrypted for a key the hub does not have",
            "test",
            |e, s| {
                let enc = Encryption::new(
                    Content::Aes128Gcm,
                    Transport::OaepMgf1p,
                    KeyPlace::KeyInfo,
                    &e.stranger_cert,
                );
                tampered(e, &s, &enc, |x| x.xml.clone())
            },
        ),
        d(
            "rsa-1_5 when the IdP entry does not allow it (GCM)",
            "test",
            |e, s| {
                let enc = e.enc(Content::Aes128Gcm, Transport::Rsa1_5, KeyPlace::KeyInfo);
                tampered(e, &s, &enc, |x| x.xml.clone())
            },
        ),
        d(
            "rsa-1_5 when the IdP entry does not allow it (CBC, allow_cbc)",
            "test-cbc",
            |e, s| {
                let enc = e.enc(Content::Aes128Cbc, Transport::Rsa1_5, KeyPlace::KeyInfo);
                tampered(e, &s, &enc, |x| x.xml.clone())
            },
        ),
        d("unknown key-transport algorithm", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| {
                x.xml
                    .replacen("xmlenc#rsa-oaep-mgf1p", "xmlenc#rsa-oaep-mgf1q", 1)
            })
        }),
        d("RetrievalMethod names no EncryptedKey", "test", |e, s| {
            let enc = e.enc(
                Content::Aes128Gcm,
                Transport::OaepMgf1p,
                KeyPlace::RetrievalMethod,
            );
            tampered(e, &s, &enc, |x| x.xml.replacen("URI=\"#_", "URI=\"#_0", 1))
        }),
        // The content, AES-GCM.
        d("GCM: the tag's last byte flipped", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| {
                data_bytes(x, |b| *b.last_mut().unwrap() ^= 0x01)
            })
        }),
        d("GCM: a ciphertext byte flipped", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| data_bytes(x, flip_middle()))
        }),
        d("GCM: the IV flipped", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| data_bytes(x, flip(0)))
        }),
        d("GCM: truncated by one byte", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| {
                data_bytes(x, |b| b.truncate(b.len() - 1))
            })
        }),
        d("GCM: truncated below IV + tag", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| data_bytes(x, |b| b.truncate(20)))
        }),
        d("unknown content algorithm URI", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| {
                x.xml
                    .replacen("xmlenc11#aes128-gcm", "xmlenc11#aes128-gcm-siv", 1)
            })
        }),
        d("content algorithm 3DES", "test-cbc", |e, s| {
            tampered(e, &s, &cbc(e), |x| {
                x.xml
                    .replacen("xmlenc#aes128-cbc", "xmlenc#tripledes-cbc", 1)
            })
        }),
        d("CipherValue is not base64", "test", |e, s| {
            tampered(e, &s, &gcm(e), |x| {
                x.xml.replacen(&x.data_cipher_b64, "!!not-base64!!", 1)
            })
        }),
        // The content, AES-CBC (allow_cbc: nothing else authenticates it).
        d("CBC: a ciphertext byte flipped", "test-cbc", |e, s| {
            tampered(e, &s, &cbc(e), |x| data_bytes(x, flip_middle()))
        }),
        d("CBC: last padding byte out of range", "test-cbc", |e, s| {
            tampered(e, &s, &cbc(e), |x| {
                data_bytes(x, |b| {
                    let i = b.len() - 17;
                    b[i] ^= 0x80
                })
            })
        }),
        d(
            "CBC: last padding byte to another length",
            "test-cbc",
            |e, s| {
                tampered(e, &s, &cbc(e), |x| {
                    data_bytes(x, |b| {
                        let i = b.len() - 17;
                        b[i] ^= 0x01
                    })
                })
            },
        ),
        d("CBC: the first block (IV) flipped", "test-cbc", |e, s| {
            tampered(e, &s, &cbc(e), |x| data_bytes(x, flip(3)))
        }),
        d("CBC: truncated by a block", "test-cbc", |e, s| {
            tampered(e, &s, &cbc(e), |x| {
                data_bytes(x, |b| b.truncate(b.len() - 16))
            })
        }),
        d("CBC: truncated by one byte", "test-cbc", |e, s| {
            tampered(e, &s, &cbc(e), |x| {
                data_bytes(x, |b| b.truncate(b.len() - 1))
            })
        }),
        d(
            "CBC: a byte of the EncryptedKey flipped",
            "test-cbc",
            |e, s| tampered(e, &s, &cbc(e), |x| key_bytes(x, |b| b[7] ^= 0x01)),
        ),
        d(
            "CBC: encrypted for a key the hub does not have",
            "test-cbc",
            |e, s| {
                let enc = Encryption::new(
                    Content::Aes128Cbc,
                    Transport::OaepMgf1p,
                    KeyPlace::KeyInfo,
                    &e.stranger_cert,
                );
                tampered(e, &s, &enc, |x| x.xml.clone())
            },
        ),
        // Unauthenticated CBC: until a signature verifies, even the plaintext's
        // own refusals are the one error, so its shape cannot be probed.
        d("CBC (allow_cbc) with nothing signed", "test-cbc", |e, s| {
            e.encrypted(&s, Signing::None, &cbc(e))
        }),
        d(
            "CBC (allow_cbc) with the Assertion signed by a stranger",
            "test-cbc",
            |e, s| {
                let stranger = TestKey::generate("encrypted-stranger", 2048);
                let xml = sign(
                    &s.to_xml(),
                    &s,
                    Signing::Assertion,
                    &stranger,
                    &SignOptions::default(),
                );
                encrypt_assertion(&xml, &cbc(e)).xml
            },
        ),
        // Inside a signed Response the signature is checked first: a
        // tampered ciphertext never reaches decryption.
        Case {
            name: "CBC in a signed Response, ciphertext flipped",
            idp: "test",
            build: |e, s| {
                let xml = e.encrypted(&s, Signing::Both, &cbc(e));
                let cv = "<xenc:CipherValue>";
                let at = xml.rfind(cv).unwrap() + cv.len() + 10;
                let c = if &xml[at..at + 1] == "A" { "B" } else { "A" };
                format!("{}{c}{}", &xml[..at], &xml[at + 1..])
            },
            code: "signature",
            reason: "digest of the signed element does not match",
        },
    ]);
}
