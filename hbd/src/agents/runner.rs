//! [`Agents`]: runs one operation on one resource with the right agent, and whole groups.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use crate::config::Resource;

use super::config::AgentConfig;
use super::exec::{self, Invocation};
use super::group::{self, Executor, GroupReport, GroupStatus, StopPolicy};
use super::ip::FloatingIp;
use super::judge;
use super::ledger::OpLedger;
use super::lookup::{resolve, Agent};
use super::outcome::{Op, Outcome};

/// Runs resource agents. Every call blocks until the agent answers or its timeout expires;
/// run it on a worker thread (heartbeat ran resource work one at a time, in order).
#[derive(Debug, Clone, Default)]
pub struct Agents {
    cfg: AgentConfig,
}

impl Agents {
    /// A runner with this configuration.
    pub fn new(cfg: AgentConfig) -> Self {
        Agents { cfg }
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.cfg
    }

    /// Which agent would run `resource` (or why none can).
    pub fn resolve(&self, resource: &Resource) -> Result<Agent, Outcome> {
        resolve(&self.cfg, resource)
    }

    /// Runs `op` on `resource`. Never panics; every failure is an [`Outcome`].
    pub fn run(&self, resource: &Resource, op: Op) -> Outcome {
        let started = Instant::now();
        let outcome = match self.resolve(resource) {
            Ok(agent) => self.run_agent(resource, &agent, op),
            Err(outcome) => outcome,
        };
        let took = started.elapsed();
        if op == Op::Status || outcome.is_success_of(op) {
            tracing::debug!(%resource, %op, %outcome, ?took, "resource operation");
        } else {
            tracing::warn!(%resource, %op, %outcome, ?took, "resource operation failed");
        }
        outcome
    }

    /// `status` of `resource` (`monitor` for OCF agents).
    pub fn status(&self, resource: &Resource) -> Outcome {
        self.run(resource, Op::Status)
    }

    /// Starts a group left to right (heartbeat's `takegroup`); see [`group::start_group`].
    pub fn start_group(&self, resources: &[Resource]) -> GroupReport {
        group::start_group(
            &mut self.executor(resources),
            resources.len(),
            self.policy(),
        )
    }

    /// Stops a group right to left (heartbeat's `givegroup`); see [`group::stop_group`].
    pub fn stop_group(&self, resources: &[Resource]) -> GroupReport {
        group::stop_group(
            &mut self.executor(resources),
            resources.len(),
            self.policy(),
        )
    }

    /// Runs status on every resource of a group; see [`group::monitor_group`].
    pub fn monitor_group(&self, resources: &[Resource]) -> GroupStatus {
        group::monitor_group(&mut self.executor(resources), resources.len())
    }

    fn policy(&self) -> StopPolicy {
        StopPolicy {
            retries: self.cfg.stop_retries,
            interval: self.cfg.stop_retry_interval,
        }
    }

    fn executor<'a>(&'a self, resources: &'a [Resource]) -> RealExecutor<'a> {
        RealExecutor {
            agents: self,
            resources,
        }
    }

    fn timeout(&self, resource: &Resource, op: Op) -> Duration {
        self.cfg
            .timeout_overrides
            .get(&resource.to_string())
            .unwrap_or(&self.cfg.timeouts)
            .of(op)
    }

    fn run_agent(&self, resource: &Resource, agent: &Agent, op: Op) -> Outcome {
        let timeout = self.timeout(resource, op);
        let (path, args, env, judge): (_, _, _, fn(Op, &exec::Finished) -> Outcome) = match agent {
            Agent::FloatingIp(spec) => {
                let ip = FloatingIp::new(spec.clone(), self.cfg.garp);
                return match op {
                    Op::Start => ip.start(),
                    Op::Stop => ip.stop(),
                    Op::Status => ip.status(),
                };
            }
            Agent::Heartbeat { path, args } => {
                let mut a: Vec<OsString> = args.iter().map(OsString::from).collect();
                a.push(op.word().into());
                (path, a, Vec::new(), judge::heartbeat)
            }
            Agent::Lsb { path, args } => {
                let mut a: Vec<OsString> = args.iter().map(OsString::from).collect();
                a.push(op.word().into());
                (path, a, Vec::new(), judge::lsb)
            }
            Agent::Ocf(ocf) => (
                &ocf.path,
                vec![op.ocf_action().into()],
                ocf.env(&self.cfg.ocf_root, timeout),
                judge::ocf,
            ),
        };
        let mut full_env: Vec<(OsString, OsString)> = self
            .cfg
            .env
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        full_env.extend(env);
        tracing::info!("Running {} {:?} {op}", path.display(), args);
        let inv = Invocation {
            program: path.clone(),
            args,
            env: full_env,
            timeout,
        };
        let ledger = self.cfg.op_ledger.as_ref().map(OpLedger::new);
        let ran = exec::run_with(&inv, |pid| {
            if let Some(l) = &ledger {
                l.record(pid, timeout, &format!("{resource} {op}"));
            }
        });
        if let Some(l) = &ledger {
            l.clear();
        }
        match ran {
            Ok(finished) => judge(op, &finished),
            Err(e) => Outcome::Failed {
                code: e.raw_os_error().unwrap_or(-1),
                stderr: format!("cannot run {}: {e}", path.display()),
            },
        }
    }
}

struct RealExecutor<'a> {
    agents: &'a Agents,
    resources: &'a [Resource],
}

impl Executor for RealExecutor<'_> {
    fn execute(&mut self, index: usize, op: Op) -> Outcome {
        match self.resources.get(index) {
            Some(r) => self.agents.run(r, op),
            None => Outcome::ConfigError {
                why: format!("no resource number {index} in the group"),
            },
        }
    }

    fn pause(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}
