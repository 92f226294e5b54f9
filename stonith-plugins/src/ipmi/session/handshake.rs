//! Opening a session: IPMI 1.5 (Get Channel Authentication Capabilities, Get Session
//! Challenge, Activate Session) and RMCP+ (Open Session, RAKP 1-4), then the privilege.

use super::*;

impl Session {
    pub(super) fn open_v15(
        &mut self,
        cfg: &SessionConfig,
        want: Option<AuthType>,
    ) -> Result<(), FenceError> {
        // Get Channel Authentication Capabilities (current channel, our privilege).
        let caps = self.command(
            NETFN_APP,
            0x38,
            &[0x0e, cfg.privilege as u8],
            "Get Channel Authentication Capabilities",
        )?;
        if caps.len() < 3 {
            return Err(protocol(
                "short Get Channel Authentication Capabilities reply",
            ));
        }
        let offered = caps[1];
        let per_message_auth_off = caps[2] & 0x10 != 0;
        let supports = |a: AuthType| offered & (1 << (a as u8)) != 0;
        let auth = match want {
            Some(a) if supports(a) => a,
            Some(a) => {
                return Err(FenceError::Refused {
                    what: "IPMI 1.5 login".into(),
                    detail: format!("the BMC does not allow auth type {a:?} (offers mask 0x{offered:02x})"),
                })
            }
            None => [AuthType::Md5, AuthType::Password, AuthType::None]
                .into_iter()
                .find(|a| supports(*a))
                .ok_or_else(|| FenceError::Refused {
                    what: "IPMI 1.5 login".into(),
                    detail: format!("no auth type we support (md5, password, none) is offered (mask 0x{offered:02x})"),
                })?,
        };
        // Get Session Challenge.
        let mut data = vec![auth as u8];
        let mut name = [0u8; 16];
        name[..cfg.username.len()].copy_from_slice(cfg.username.as_bytes());
        data.extend(name);
        let reply = self.request(NETFN_APP, 0x39, &data, "Get Session Challenge")?;
        match reply.cc {
            0 => {}
            0x81 => {
                return Err(FenceError::AuthFailed {
                    detail: "unknown user name".into(),
                })
            }
            0x82 => {
                return Err(FenceError::AuthFailed {
                    detail: "null user name not enabled".into(),
                })
            }
            cc => {
                return Err(FenceError::Refused {
                    what: "Get Session Challenge".into(),
                    detail: completion_text(cc),
                })
            }
        }
        if reply.data.len() < 20 {
            return Err(protocol("short Get Session Challenge reply"));
        }
        let temp_id =
            u32::from_le_bytes([reply.data[0], reply.data[1], reply.data[2], reply.data[3]]);
        // Activate Session, authenticated with the password.
        if let State::V15 {
            session_id,
            auth: a,
            seq,
            ..
        } = &mut self.state
        {
            *session_id = temp_id;
            *a = auth;
            *seq = 0;
        }
        let outbound_seq = (rand::rng().next_u32() | 1).to_le_bytes();
        let mut data = vec![auth as u8, cfg.privilege as u8];
        data.extend_from_slice(&reply.data[4..20]);
        data.extend(outbound_seq);
        let reply =
            match self.request(NETFN_APP, 0x3a, &data, "Activate Session") {
                // The BMC answered the challenge, so it is there: a BMC drops an Activate
                // Session whose auth code is wrong without a word.
                Err(FenceError::TimedOut { .. }) => return Err(FenceError::AuthFailed {
                    detail:
                        "the BMC ignored Activate Session (it drops requests with a wrong password)"
                            .into(),
                }),
                r => r?,
            };
        if reply.cc != 0 {
            let detail = match reply.cc {
                0x81 => "no session slot available".to_string(),
                0x82 => "no slot available for this user".to_string(),
                0x83 => "no slot available at this privilege level".to_string(),
                0x86 => {
                    "requested privilege level exceeds the user's limit (lower privlvl)".to_string()
                }
                cc => completion_text(cc),
            };
            return Err(if reply.cc == 0x86 {
                FenceError::AuthFailed { detail }
            } else {
                FenceError::Refused {
                    what: "Activate Session".into(),
                    detail,
                }
            });
        }
        if reply.data.len() < 10 {
            return Err(protocol("short Activate Session reply"));
        }
        let d = &reply.data;
        if let State::V15 {
            session_id,
            seq,
            auth: a,
            active,
            ..
        } = &mut self.state
        {
            *session_id = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            *seq = u32::from_le_bytes([d[5], d[6], d[7], d[8]]);
            *active = true;
            if per_message_auth_off {
                *a = AuthType::None;
            }
        }
        Ok(())
    }

    pub(super) fn open_v20(&mut self, cfg: &SessionConfig, cipher: u8) -> Result<(), FenceError> {
        let (auth_alg, integ_alg, conf_alg) =
            suite(cipher).ok_or_else(|| crate::ParamError::Invalid {
                name: "cipher".into(),
                reason: format!(
                    "cipher suite {cipher} is not supported (0, 1, 2 or 3; 3 is the usual)"
                ),
            })?;
        let mut rng = rand::rng();
        let console_id = rng.next_u32() | 1;
        let priv_byte = cfg.privilege as u8;
        let link = Link {
            socket: &self.socket,
            addr: self.addr,
            timeout: self.timeout,
            retries: self.retries,
        };

        let wrap = |ptype: u8, payload: &[u8]| {
            let mut p = RMCP_HEADER.to_vec();
            p.extend([AUTH_RMCP_PLUS, ptype, 0, 0, 0, 0, 0, 0, 0, 0]);
            p.extend((payload.len() as u16).to_le_bytes());
            p.extend_from_slice(payload);
            p
        };
        // Returns the payload of an unauthenticated RMCP+ packet of type `want`.
        fn plain(dgram: &[u8], want: u8) -> Option<&[u8]> {
            if dgram.len() < 16 || dgram[..4] != RMCP_HEADER || dgram[4] != AUTH_RMCP_PLUS {
                return None;
            }
            if dgram[5] & 0x3f != want {
                return None;
            }
            let len = usize::from(u16::from_le_bytes([dgram[14], dgram[15]]));
            dgram.get(16..16 + len)
        }

        // Open Session.
        let mut open = vec![0u8, priv_byte, 0, 0];
        open.extend(console_id.to_le_bytes());
        open.extend([0x00, 0, 0, 0x08, auth_alg, 0, 0, 0]);
        open.extend([0x01, 0, 0, 0x08, integ_alg, 0, 0, 0]);
        open.extend([0x02, 0, 0, 0x08, conf_alg, 0, 0, 0]);
        let open_packet = wrap(PT_OPEN_REQ, &open);
        let managed_id = exchange(
            link,
            "RMCP+ Open Session",
            &mut (),
            |_| open_packet.clone(),
            |_, d| {
                let p = match handshake_reply(
                    plain(d, PT_OPEN_RSP)?,
                    0x00,
                    "RMCP+ Open Session",
                    "malformed RMCP+ Open Session response",
                    console_id,
                    36,
                )? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(e)),
                };
                if p[16] != auth_alg || p[24] != integ_alg || p[32] != conf_alg {
                    return Some(Err(protocol(
                        "the BMC chose other algorithms than cipher suite asked for",
                    )));
                }
                Some(Ok(u32::from_le_bytes([p[8], p[9], p[10], p[11]])))
            },
        )?;

        // RAKP 1 / 2.
        let mut rm = [0u8; 16];
        rng.fill_bytes(&mut rm);
        let role = priv_byte | 0x10; // name-only lookup
        let user = cfg.username.as_bytes();
        let mut r1 = vec![0x01u8, 0, 0, 0];
        r1.extend(managed_id.to_le_bytes());
        r1.extend(rm);
        r1.extend([role, 0, 0, user.len() as u8]);
        r1.extend_from_slice(user);
        let r1_packet = wrap(PT_RAKP1, &r1);
        let kuid = cfg.password.clone();
        let (rc, guid) = exchange(
            link,
            "RAKP 2",
            &mut (),
            |_| r1_packet.clone(),
            |_, d| {
                let code_len = if auth_alg == 1 { 20 } else { 0 };
                let p = match handshake_reply(
                    plain(d, PT_RAKP2)?,
                    0x01,
                    "RAKP 2",
                    "malformed RAKP 2",
                    console_id,
                    40 + code_len,
                )? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(e)),
                };
                let mut rc = [0u8; 16];
                rc.copy_from_slice(&p[8..24]);
                let mut guid = [0u8; 16];
                guid.copy_from_slice(&p[24..40]);
                if auth_alg == 1 {
                    let rakp = Rakp {
                        console_id,
                        managed_id,
                        rm,
                        rc,
                        guid,
                        role,
                        username: user,
                    };
                    if !crypto::ct_eq(&rakp.rakp2_code(&kuid), &p[40..60]) {
                        return Some(Err(FenceError::AuthFailed {
                            detail: "the BMC's RAKP 2 proof does not match our password (wrong password)".into(),
                        }));
                    }
                }
                Some(Ok((rc, guid)))
            },
        )?;

        // RAKP 3 / 4.
        let rakp = Rakp {
            console_id,
            managed_id,
            rm,
            rc,
            guid,
            role,
            username: user,
        };
        let mut r3 = vec![0x02u8, 0, 0, 0];
        r3.extend(managed_id.to_le_bytes());
        let (k1, k2) = if auth_alg == 1 {
            r3.extend(rakp.rakp3_code(&kuid));
            let sik = rakp.sik(cfg.kg.as_deref().unwrap_or(&kuid));
            let (k1, k2) = crypto::session_keys(&sik);
            (Some((k1, sik)), Some(k2))
        } else {
            (None, None)
        };
        let r3_packet = wrap(PT_RAKP3, &r3);
        exchange(
            link,
            "RAKP 4",
            &mut (),
            |_| r3_packet.clone(),
            |_, d| {
                let p = match handshake_reply(
                    plain(d, PT_RAKP4)?,
                    0x02,
                    "RAKP 4",
                    "malformed RAKP 4",
                    console_id,
                    8,
                )? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(e)),
                };
                if let Some((_, sik)) = &k1 {
                    let icv = rakp.rakp4_icv(sik);
                    if p.len() < 20 || !crypto::ct_eq(&icv, &p[8..20]) {
                        return Some(Err(FenceError::AuthFailed {
                            detail: "the BMC's RAKP 4 check value is wrong (wrong BMC key hexadecimal_kg?)".into(),
                        }));
                    }
                }
                Some(Ok(()))
            },
        )?;
        self.state = State::V20 {
            managed_id,
            console_id,
            seq: 0,
            k1: if integ_alg == 1 {
                k1.map(|(k, _)| k)
            } else {
                None
            },
            k2: if conf_alg == 1 { k2 } else { None },
        };
        Ok(())
    }
}
