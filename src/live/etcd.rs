//! The API layer's storage on a real etcd (etcd-client): kube-apiserver's
//! key layout (`<prefix>/registry/<resource>/<namespace>/<name>`), objects as
//! JSON, resourceVersion = the key's mod revision, every write a
//! compare-and-swap transaction. Calls block the driver thread on a tokio
//! runtime with a 5 s deadline, so a dead etcd is an error naming the
//! endpoint, never a hang.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, Txn, TxnOp, TxnOpResponse, WatchOptions};
use tokio::runtime::Runtime;

use crate::api::storage::{Storage, StorageError, WatchEvent, WatchEventType, WriteOutcome};
use crate::model::{Kind, Object};
use crate::api::storage::Revision;

/// How long any etcd call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// TLS for etcd: a CA, and a client certificate and key (all PEM files).
#[derive(Clone, Debug, Default)]
pub struct EtcdTls {
    pub ca: Option<std::path::PathBuf>,
    pub cert: Option<std::path::PathBuf>,
    pub key: Option<std::path::PathBuf>,
}

pub struct EtcdStorage {
    rt: Arc<Runtime>,
    client: Client,
    endpoints: String,
    /// The API server's key prefix (`<prefix>/registry`), to tell kinds from keys.
    prefix: String,
    /// Leases for keys with a TTL (Events), shared as kube-apiserver's lease manager shares them.
    leases: crate::api::storage::LeaseReuse,
}

/// What a watch stream hands the driver.
#[derive(Debug)]
pub enum StreamEvent {
    Event(WatchEvent),
    /// The watch started from a compacted revision: relist.
    Gone(Kind),
    /// The stream broke (etcd down); it is being re-established.
    Broken(Kind, String),
}

impl EtcdStorage {
    /// Connects and checks that etcd answers, within 5 s.
    pub fn connect(rt: Arc<Runtime>, endpoints: &[String], prefix: &str, tls: &EtcdTls) -> Result<EtcdStorage, String> {
        let list = endpoints.join(",");
        let mut options = ConnectOptions::new().with_connect_timeout(CALL_TIMEOUT).with_timeout(CALL_TIMEOUT);
        if tls.ca.is_some() || tls.cert.is_some() {
            options = options.with_tls(tls_options(tls)?);
        }
        let eps: Vec<String> = endpoints.to_vec();
        let client = rt
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, Client::connect(eps, Some(options))).await })
            .map_err(|_| format!("etcd at {list}: no answer within {}s", CALL_TIMEOUT.as_secs()))?
            .map_err(|e| format!("etcd at {list}: cannot connect: {e}"))?;
        let mut probe = client.clone();
        rt.block_on(async { tokio::time::timeout(CALL_TIMEOUT, probe.status()).await })
            .map_err(|_| format!("etcd at {list}: no answer within {}s", CALL_TIMEOUT.as_secs()))?
            .map_err(|e| format!("etcd at {list}: {e}"))?;
        Ok(EtcdStorage { rt, client, endpoints: list, prefix: prefix.trim_end_matches('/').to_string(), leases: Default::default() })
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }

    fn call<T, F>(&self, f: impl FnOnce(Client) -> F) -> Result<T, StorageError>
    where
        F: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let client = self.client.clone();
        match self.rt.block_on(async { tokio::time::timeout(CALL_TIMEOUT, f(client)).await }) {
            Err(_) => Err(StorageError::Unavailable(format!("etcd at {}: no answer within {}s", self.endpoints, CALL_TIMEOUT.as_secs()))),
            Ok(Err(e)) => Err(self.error(e)),
            Ok(Ok(v)) => Ok(v),
        }
    }

    fn error(&self, e: etcd_client::Error) -> StorageError {
        let text = e.to_string();
        if text.contains("required revision has been compacted") {
            return StorageError::Compacted { requested: 0, compacted: 0 };
        }
        StorageError::Unavailable(format!("etcd at {}: {text}", self.endpoints))
    }

    /// The kind of the object stored under `key`.
    fn kind_of(&self, key: &str) -> Option<Kind> {
        let rest = key.strip_prefix(&self.prefix)?.trim_start_matches('/');
        let resource = rest.split('/').next()?;
        Kind::ALL.iter().copied().find(|k| k.etcd_resource() == resource)
    }

    fn decode(&self, key: &[u8], value: &[u8], mod_revision: i64) -> Result<Object, StorageError> {
        let key = String::from_utf8_lossy(key);
        let kind = self.kind_of(&key).ok_or_else(|| StorageError::Unavailable(format!("etcd key {key} is not under {}", self.prefix)))?;
        let mut obj = Object::from_json(kind, value).map_err(|e| StorageError::Unavailable(format!("etcd key {key}: cannot decode: {e}")))?;
        obj.meta_mut().resource_version = mod_revision.to_string();
        Ok(obj)
    }

    fn encode(obj: &Object) -> Vec<u8> {
        // As kube-apiserver: the resourceVersion is the key's revision, never stored.
        let mut o = obj.clone();
        o.meta_mut().resource_version.clear();
        serde_json::to_vec(&o.to_json_value()).unwrap_or_default()
    }

    fn put_if(&mut self, key: &str, obj: Object, compare: Compare) -> Result<WriteOutcome, StorageError> {
        self.put_if_leased(key, obj, compare, None)
    }

    /// A lease for a key written with `ttl` (etcd deletes the key when it expires).
    fn lease(&mut self, ttl: crate::api::storage::Ttl) -> Result<i64, StorageError> {
        let (rt, client) = (self.rt.clone(), self.client.clone());
        self.leases.lease_for(ttl, |secs| {
            let mut c = client.clone();
            rt.block_on(async move { tokio::time::timeout(Duration::from_secs(5), c.lease_grant(secs, None)).await })
                .map_err(|_| StorageError::Unavailable("etcd lease grant: timed out after 5 s".into()))?
                .map(|r| r.id())
                .map_err(|e| StorageError::Unavailable(format!("etcd lease grant: {e}")))
        })
    }

    fn put_if_leased(&mut self, key: &str, obj: Object, compare: Compare, lease: Option<i64>) -> Result<WriteOutcome, StorageError> {
        let value = Self::encode(&obj);
        let options = lease.map(|id| etcd_client::PutOptions::new().with_lease(id));
        let txn = Txn::new().when(vec![compare]).and_then(vec![TxnOp::put(key, value, options)]);
        let resp = self.call(|mut c| async move { c.txn(txn).await })?;
        if !resp.succeeded() {
            return Ok(WriteOutcome::PreconditionFailed);
        }
        let rev = resp.header().map_or(0, |h| h.revision());
        let mut written = obj;
        written.meta_mut().resource_version = rev.to_string();
        Ok(WriteOutcome::Written(written))
    }

    /// Streams changes under the kind's prefix from revision `from` to `tx`,
    /// re-establishing the watch (from the last revision seen) when it breaks.
    pub fn watch_stream(&self, kind: Kind, from: Revision, tx: std::sync::mpsc::Sender<StreamEvent>) {
        let prefix = crate::model::etcd_prefix(&self.prefix, kind, None);
        let client = self.client.clone();
        let storage_prefix = self.prefix.clone();
        self.rt.spawn(async move {
            let mut next = from;
            loop {
                let mut c = client.clone();
                let opts = WatchOptions::new().with_prefix().with_start_revision(next).with_prev_key();
                let mut stream = match c.watch(prefix.clone(), Some(opts)).await {
                    Ok(s) => s,
                    Err(e) => {
                        if tx.send(StreamEvent::Broken(kind, e.to_string())).is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                loop {
                    match stream.message().await {
                        Ok(Some(resp)) => {
                            if resp.canceled() || resp.compact_revision() > 0 {
                                let _ = tx.send(StreamEvent::Gone(kind));
                                return;
                            }
                            for ev in resp.events() {
                                let Some(kv) = ev.kv() else { continue };
                                let rev = kv.mod_revision();
                                let decoded = match ev.event_type() {
                                    EventType::Put => decode_with(&storage_prefix, kind, kv.value(), rev).map(|o| {
                                        let type_ = if kv.create_revision() == rev { WatchEventType::Added } else { WatchEventType::Modified };
                                        WatchEvent { type_, key: Arc::from(String::from_utf8_lossy(kv.key()).as_ref()), object: o, revision: rev }
                                    }),
                                    EventType::Delete => ev.prev_kv().and_then(|p| decode_with(&storage_prefix, kind, p.value(), rev)).map(|o| WatchEvent {
                                        type_: WatchEventType::Deleted,
                                        key: Arc::from(String::from_utf8_lossy(kv.key()).as_ref()),
                                        object: o,
                                        revision: rev,
                                    }),
                                };
                                next = rev + 1;
                                if let Some(we) = decoded
                                    && tx.send(StreamEvent::Event(we)).is_err()
                                {
                                    return;
                                }
                            }
                        }
                        Ok(None) | Err(_) => {
                            if tx.send(StreamEvent::Broken(kind, "watch stream ended".into())).is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            break;
                        }
                    }
                }
            }
        });
    }

    /// Compacts etcd history up to `rev` (kube-apiserver's compactor does this every 5 min).
    pub fn compact(&self, rev: Revision) -> Result<(), StorageError> {
        self.call(|mut c| async move { c.compact(rev, None).await }).map(|_| ())
    }
}

fn decode_with(prefix: &str, kind: Kind, value: &[u8], rev: i64) -> Option<Object> {
    let _ = prefix;
    let mut o = Object::from_json(kind, value).ok()?;
    o.meta_mut().resource_version = rev.to_string();
    Some(o)
}

fn tls_options(tls: &EtcdTls) -> Result<etcd_client::TlsOptions, String> {
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut o = etcd_client::TlsOptions::new();
    if let Some(ca) = &tls.ca {
        o = o.ca_certificate(etcd_client::Certificate::from_pem(read(ca)?));
    }
    match (&tls.cert, &tls.key) {
        (Some(c), Some(k)) => o = o.identity(etcd_client::Identity::from_pem(read(c)?, read(k)?)),
        (None, None) => {}
        _ => return Err("etcd TLS: give both --etcd-cert and --etcd-key".into()),
    }
    Ok(o)
}

impl Storage for EtcdStorage {
    fn revision(&self) -> Revision {
        let key = format!("{}/", self.prefix);
        self.call(|mut c| async move { c.get(key, Some(GetOptions::new().with_count_only())).await }).ok().and_then(|r| r.header().map(|h| h.revision())).unwrap_or(0)
    }

    fn get(&self, key: &str) -> Result<Option<Object>, StorageError> {
        let k = key.to_string();
        let resp = self.call(|mut c| async move { c.get(k, None).await })?;
        resp.kvs().first().map(|kv| self.decode(kv.key(), kv.value(), kv.mod_revision())).transpose()
    }

    fn list(&self, prefix: &str) -> Result<(Vec<Object>, Revision), StorageError> {
        let p = prefix.to_string();
        let resp = self.call(|mut c| async move { c.get(p, Some(GetOptions::new().with_prefix())).await })?;
        let rev = resp.header().map_or(0, |h| h.revision());
        let objs = resp.kvs().iter().map(|kv| self.decode(kv.key(), kv.value(), kv.mod_revision())).collect::<Result<Vec<_>, _>>()?;
        Ok((objs, rev))
    }

    fn list_at(&self, prefix: &str, rev: Revision) -> Result<(Vec<Object>, Revision), StorageError> {
        let p = prefix.to_string();
        let resp = self.call(|mut c| async move { c.get(p, Some(GetOptions::new().with_prefix().with_revision(rev))).await })?;
        let objs = resp.kvs().iter().map(|kv| self.decode(kv.key(), kv.value(), kv.mod_revision())).collect::<Result<Vec<_>, _>>()?;
        Ok((objs, rev))
    }

    fn create(&mut self, key: &str, obj: Object) -> Result<WriteOutcome, StorageError> {
        self.put_if(key, obj, Compare::create_revision(key, CompareOp::Equal, 0))
    }

    fn update(&mut self, key: &str, obj: Object, expected: Revision) -> Result<WriteOutcome, StorageError> {
        self.put_if(key, obj, Compare::mod_revision(key, CompareOp::Equal, expected))
    }

    fn delete(&mut self, key: &str, expected: Revision) -> Result<WriteOutcome, StorageError> {
        let k = key.to_string();
        let txn = Txn::new()
            .when(vec![Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then(vec![TxnOp::delete(k, Some(DeleteOptions::new().with_prev_key()))]);
        let resp = self.call(|mut c| async move { c.txn(txn).await })?;
        if !resp.succeeded() {
            return Ok(WriteOutcome::PreconditionFailed);
        }
        let rev = resp.header().map_or(0, |h| h.revision());
        for op in resp.op_responses() {
            if let TxnOpResponse::Delete(d) = op
                && let Some(kv) = d.prev_kvs().first()
            {
                return Ok(WriteOutcome::Written(self.decode(kv.key(), kv.value(), rev)?));
            }
        }
        Ok(WriteOutcome::PreconditionFailed)
    }

    fn create_with_ttl(&mut self, key: &str, obj: Object, ttl: crate::api::storage::Ttl) -> Result<WriteOutcome, StorageError> {
        let lease = self.lease(ttl)?;
        self.put_if_leased(key, obj, Compare::create_revision(key, CompareOp::Equal, 0), Some(lease))
    }

    fn update_with_ttl(&mut self, key: &str, obj: Object, expected: Revision, ttl: crate::api::storage::Ttl) -> Result<WriteOutcome, StorageError> {
        let lease = self.lease(ttl)?;
        self.put_if_leased(key, obj, Compare::mod_revision(key, CompareOp::Equal, expected), Some(lease))
    }

    fn watch_since(&self, _kind: Kind, _prefix: &str, _from: Revision) -> Result<Vec<WatchEvent>, StorageError> {
        // Live watches are streams (`watch_stream`); history is never pulled in bulk.
        Err(StorageError::Unsupported("live storage serves watches as streams".into()))
    }
}
