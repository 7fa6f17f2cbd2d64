#include "store/etcd_store.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "store/etcd_rpc.grpc.pb.h"

namespace k3dpp::store {
namespace {

namespace pb = ::etcdserverpb;
using Clock = std::chrono::steady_clock;

const char* const kCompactKey = "compact_rev_key";

// The smallest key greater than every key starting with prefix (etcd's range_end for a prefix).
std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // whole key space
}

Error grpc_error(const std::string& what, const grpc::Status& s) {
  const std::string& m = s.error_message();
  if (m.find("compacted") != std::string::npos) return Error(what + ": " + m, "Expired");
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return Error("etcd " + what + ": " + m, "Unavailable");
  }
  return Error("etcd " + what + ": " + m, "Internal");
}

std::shared_ptr<grpc::Channel> make_channel(const EtcdOptions& o) {
  std::string target;
  if (o.endpoints.size() == 1) {
    target = o.endpoints[0];
  } else {
    target = "ipv4:";
    for (size_t i = 0; i < o.endpoints.size(); ++i) target += (i ? "," : "") + o.endpoints[i];
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 * 1024 * 1024);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Reconnect quickly after a member restarts (defaults back off up to 120 s).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!o.ca_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = o.ca_pem;
    ssl.pem_private_key = o.key_pem;
    ssl.pem_cert_chain = o.cert_pem;
    creds = grpc::SslCredentials(ssl);
    if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(target, creds, args);
}

KeyValue to_kv(const pb::KeyValue& kv, size_t strip) {
  KeyValue out;
  out.key = kv.key().size() >= strip ? kv.key().substr(strip) : kv.key();
  out.value = kv.value();
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  return out;
}

class EtcdWatch final : public QueuedWatch {
 public:
  EtcdWatch(pb::Watch::Stub* stub, size_t strip) : strip_(strip), stub_(stub) {}
  ~EtcdWatch() override {
    ctx_.TryCancel();
    if (reader_.joinable()) reader_.join();
  }

  Status start(const std::string& key, const std::string& range_end, int64_t start_revision) {
    stream_ = stub_->Watch(&ctx_);
    pb::WatchRequest req;
    auto* c = req.mutable_create_request();
    c->set_key(key);
    c->set_range_end(range_end);
    c->set_start_revision(start_revision);
    c->set_prev_kv(true);
    if (!stream_->Write(req)) {
      auto st = stream_->Finish();
      return Unexpected<Error>{grpc_error("watch", st)};
    }
    pb::WatchResponse resp;
    if (!stream_->Read(&resp)) {
      auto st = stream_->Finish();
      return Unexpected<Error>{grpc_error("watch", st)};
    }
    if (resp.canceled() || resp.compact_revision() > 0) {
      ctx_.TryCancel();
      (void)stream_->Finish();
      if (resp.compact_revision() > 0) {
        return fail("The resourceVersion for the provided watch is too old.", "Expired");
      }
      return fail("etcd watch canceled: " + resp.cancel_reason(), "Internal");
    }
    handle(resp);
    reader_ = std::thread([this] { read_loop(); });
    return {};
  }

 private:
  void read_loop() {
    pb::WatchResponse resp;
    while (stream_->Read(&resp)) {
      if (resp.canceled() || resp.compact_revision() > 0) break;
      handle(resp);
    }
    ctx_.TryCancel();
    (void)stream_->Finish();
    close();
  }

  void handle(const pb::WatchResponse& resp) {
    if (resp.events_size() == 0) return;
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& ev : resp.events()) {
      Event e;
      if (ev.type() == pb::Event::DELETE) {
        e.type = EventType::kDelete;
        e.kv = to_kv(ev.prev_kv(), strip_);
        e.kv.key = ev.kv().key().substr(std::min(strip_, ev.kv().key().size()));
        e.kv.mod_revision = ev.kv().mod_revision();
      } else {
        e.type = EventType::kPut;
        e.kv = to_kv(ev.kv(), strip_);
        e.created = ev.kv().version() == 1;
      }
      q_.push_back(std::move(e));
    }
    cv_.notify_all();
  }

  size_t strip_;
  pb::Watch::Stub* stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> stream_;
  std::thread reader_;
};

class EtcdStore final : public Store {
 public:
  explicit EtcdStore(EtcdOptions o)
      : opts_(std::move(o)),
        log_(log::get("store")),
        channel_(make_channel(opts_)),
        kv_(pb::KV::NewStub(channel_)),
        watch_(pb::Watch::NewStub(channel_)) {}

  Status open() {
    auto rev = fetch_revision();
    if (!rev) return Unexpected<Error>{rev.error()};
    pb::RangeRequest req;
    req.set_key(opts_.key_prefix + kCompactKey);
    pb::RangeResponse resp;
    grpc::ClientContext ctx;
    deadline(ctx);
    auto s = kv_->Range(&ctx, req, &resp);
    if (!s.ok()) return Unexpected<Error>{grpc_error("range", s)};
    if (resp.kvs_size() > 0) {
      std::lock_guard<std::mutex> l(mu_);
      compacted_ = std::atoll(resp.kvs(0).value().c_str());
    }
    return {};
  }

  Result<KeyValue> get(const std::string& key) override {
    pb::RangeRequest req;
    req.set_key(full(key));
    pb::RangeResponse resp;
    grpc::ClientContext ctx;
    deadline(ctx);
    auto s = kv_->Range(&ctx, req, &resp);
    if (!s.ok()) return Unexpected<Error>{grpc_error("range", s)};
    saw(resp.header().revision());
    if (resp.kvs_size() == 0) return fail(key + " not found", "NotFound");
    return to_kv(resp.kvs(0), opts_.key_prefix.size());
  }

  Result<ListResult> list(const std::string& prefix, const ListOptions& options) override {
    pb::RangeRequest req;
    req.set_key(options.start.empty() ? full(prefix) : full(options.start));
    req.set_range_end(prefix_end(full(prefix)));
    if (options.limit > 0) req.set_limit(options.limit);
    if (options.revision > 0) {
      if (options.revision < compacted_revision()) {
        return fail("The resourceVersion " + std::to_string(options.revision) + " is too old", "Expired");
      }
      req.set_revision(options.revision);
    }
    pb::RangeResponse resp;
    grpc::ClientContext ctx;
    deadline(ctx);
    auto s = kv_->Range(&ctx, req, &resp);
    if (!s.ok()) return Unexpected<Error>{grpc_error("range", s)};
    saw(resp.header().revision());
    ListResult out;
    out.items.reserve(static_cast<size_t>(resp.kvs_size()));
    for (const auto& kv : resp.kvs()) out.items.push_back(to_kv(kv, opts_.key_prefix.size()));
    out.revision = options.revision > 0 ? options.revision : resp.header().revision();
    out.more = resp.more();
    if (out.more) out.remaining = resp.count() - static_cast<int64_t>(out.items.size());
    return out;
  }

  Result<KeyValue> create(const std::string& key, const std::string& value) override {
    pb::TxnRequest req;
    auto* cmp = req.add_compare();
    cmp->set_key(full(key));
    cmp->set_target(pb::Compare::CREATE);
    cmp->set_result(pb::Compare::EQUAL);
    cmp->set_create_revision(0);
    auto* put = req.add_success()->mutable_request_put();
    put->set_key(full(key));
    put->set_value(value);
    auto resp = txn(req);
    if (!resp) return Unexpected<Error>{resp.error()};
    if (!resp->succeeded()) return fail(key + " already exists", "AlreadyExists");
    KeyValue kv;
    kv.key = key;
    kv.value = value;
    kv.create_revision = kv.mod_revision = resp->header().revision();
    return kv;
  }

  Result<KeyValue> update(const std::string& key, const std::string& value, int64_t expected_revision) override {
    pb::TxnRequest req;
    add_precondition(req, key, expected_revision);
    auto* put = req.add_success()->mutable_request_put();
    put->set_key(full(key));
    put->set_value(value);
    put->set_prev_kv(true);
    req.add_failure()->mutable_request_range()->set_key(full(key));
    auto resp = txn(req);
    if (!resp) return Unexpected<Error>{resp.error()};
    if (!resp->succeeded()) return precondition_error(*resp, key);
    KeyValue kv;
    kv.key = key;
    kv.value = value;
    kv.mod_revision = resp->header().revision();
    const auto& prev = resp->responses(0).response_put().prev_kv();
    kv.create_revision = prev.create_revision() > 0 ? prev.create_revision() : kv.mod_revision;
    return kv;
  }

  Result<KeyValue> remove(const std::string& key, int64_t expected_revision) override {
    pb::TxnRequest req;
    add_precondition(req, key, expected_revision);
    auto* del = req.add_success()->mutable_request_delete_range();
    del->set_key(full(key));
    del->set_prev_kv(true);
    req.add_failure()->mutable_request_range()->set_key(full(key));
    auto resp = txn(req);
    if (!resp) return Unexpected<Error>{resp.error()};
    if (!resp->succeeded()) return precondition_error(*resp, key);
    const auto& d = resp->responses(0).response_delete_range();
    if (d.prev_kvs_size() == 0) return fail(key + " not found", "NotFound");  // deleted meanwhile
    return to_kv(d.prev_kvs(0), opts_.key_prefix.size());
  }

  Result<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t from_revision) override {
    if (from_revision < compacted_revision()) {
      return fail("The resourceVersion for the provided watch is too old.", "Expired");
    }
    auto w = std::make_unique<EtcdWatch>(watch_.get(), opts_.key_prefix.size());
    K3DPP_TRY(w->start(full(prefix), prefix_end(full(prefix)), from_revision + 1));
    return std::unique_ptr<Watch>(std::move(w));
  }

  int64_t current_revision() override {
    auto r = fetch_revision();
    if (r) return *r;
    std::lock_guard<std::mutex> l(mu_);
    return last_seen_;
  }

  int64_t compacted_revision() override {
    std::lock_guard<std::mutex> l(mu_);
    return compacted_;
  }

  Status compact(int64_t revision) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (revision <= compacted_) return {};
    }
    pb::CompactionRequest req;
    req.set_revision(revision);
    pb::CompactionResponse resp;
    grpc::ClientContext ctx;
    deadline(ctx);
    auto s = kv_->Compact(&ctx, req, &resp);
    // Another API server may have compacted further already: that is fine.
    if (!s.ok() && s.error_message().find("compacted") == std::string::npos) {
      return Unexpected<Error>{grpc_error("compact", s)};
    }
    // Record it for every client; never move the recorded revision backwards.
    for (int attempt = 0; attempt < 5; ++attempt) {
      pb::RangeRequest get;
      get.set_key(opts_.key_prefix + kCompactKey);
      pb::RangeResponse cur;
      grpc::ClientContext gctx;
      deadline(gctx);
      auto gs = kv_->Range(&gctx, get, &cur);
      if (!gs.ok()) return Unexpected<Error>{grpc_error("range", gs)};
      int64_t recorded = cur.kvs_size() ? std::atoll(cur.kvs(0).value().c_str()) : 0;
      if (recorded >= revision) {
        std::lock_guard<std::mutex> l(mu_);
        compacted_ = std::max(compacted_, recorded);
        return {};
      }
      pb::TxnRequest t;
      auto* cmp = t.add_compare();
      cmp->set_key(opts_.key_prefix + kCompactKey);
      cmp->set_target(pb::Compare::MOD);
      cmp->set_result(pb::Compare::EQUAL);
      cmp->set_mod_revision(cur.kvs_size() ? cur.kvs(0).mod_revision() : 0);
      auto* put = t.add_success()->mutable_request_put();
      put->set_key(opts_.key_prefix + kCompactKey);
      put->set_value(std::to_string(revision));
      auto r = txn(t);
      if (!r) return Unexpected<Error>{r.error()};
      if (r->succeeded()) {
        std::lock_guard<std::mutex> l(mu_);
        compacted_ = std::max(compacted_, revision);
        return {};
      }
    }
    return fail("etcd compact: could not record the compacted revision", "Conflict");
  }

  Status compact_keep(int64_t keep_revisions, std::chrono::seconds min_age) override {
    auto rev = fetch_revision();
    if (!rev) return Unexpected<Error>{rev.error()};
    int64_t by_count = *rev - keep_revisions;
    int64_t by_age = 0;
    auto cutoff = Clock::now() - min_age;
    {
      std::lock_guard<std::mutex> l(mu_);
      // etcd keeps no write times: we sample (time, revision) at every call and never compact
      // past the newest revision sampled before the cutoff.
      samples_.emplace_back(Clock::now(), *rev);
      for (const auto& [t, r] : samples_) {
        if (t <= cutoff) by_age = std::max(by_age, r);
      }
      while (samples_.size() > 2 && samples_[1].first <= cutoff) samples_.pop_front();
      if (by_count <= compacted_) return {};
    }
    int64_t target = std::min(by_count, by_age);
    if (target <= 0) return {};
    return compact(target);
  }

 private:
  std::string full(const std::string& key) const { return opts_.key_prefix + key; }

  void deadline(grpc::ClientContext& ctx) const { ctx.set_deadline(std::chrono::system_clock::now() + opts_.timeout); }

  void saw(int64_t revision) {
    std::lock_guard<std::mutex> l(mu_);
    last_seen_ = std::max(last_seen_, revision);
  }

  Result<int64_t> fetch_revision() {
    pb::RangeRequest req;
    req.set_key(opts_.key_prefix + kCompactKey);
    req.set_count_only(true);
    pb::RangeResponse resp;
    grpc::ClientContext ctx;
    deadline(ctx);
    auto s = kv_->Range(&ctx, req, &resp);
    if (!s.ok()) return Unexpected<Error>{grpc_error("range", s)};
    saw(resp.header().revision());
    return resp.header().revision();
  }

  void add_precondition(pb::TxnRequest& req, const std::string& key, int64_t expected_revision) {
    auto* cmp = req.add_compare();
    cmp->set_key(full(key));
    if (expected_revision > 0) {
      cmp->set_target(pb::Compare::MOD);
      cmp->set_result(pb::Compare::EQUAL);
      cmp->set_mod_revision(expected_revision);
    } else {
      cmp->set_target(pb::Compare::CREATE);
      cmp->set_result(pb::Compare::GREATER);
      cmp->set_create_revision(0);
    }
  }

  Unexpected<Error> precondition_error(const pb::TxnResponse& resp, const std::string& key) {
    bool exists = resp.responses_size() > 0 && resp.responses(0).response_range().kvs_size() > 0;
    if (!exists) return Unexpected<Error>{Error(key + " not found", "NotFound")};
    return Unexpected<Error>{Error("the object " + key + " has been modified", "Conflict")};
  }

  Result<pb::TxnResponse> txn(const pb::TxnRequest& req) {
    pb::TxnResponse resp;
    grpc::ClientContext ctx;
    deadline(ctx);
    auto s = kv_->Txn(&ctx, req, &resp);
    if (!s.ok()) return Unexpected<Error>{grpc_error("txn", s)};
    saw(resp.header().revision());
    return resp;
  }

  EtcdOptions opts_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::KV::Stub> kv_;
  std::unique_ptr<pb::Watch::Stub> watch_;
  std::mutex mu_;
  int64_t compacted_ = 0;
  int64_t last_seen_ = 0;
  std::deque<std::pair<Clock::time_point, int64_t>> samples_;
};

EtcdMember to_member(const pb::Member& m) {
  EtcdMember out;
  out.id = m.id();
  out.name = m.name();
  out.peer_urls.assign(m.peerurls().begin(), m.peerurls().end());
  out.client_urls.assign(m.clienturls().begin(), m.clienturls().end());
  out.learner = m.islearner();
  return out;
}

}  // namespace

Result<std::unique_ptr<Store>> open_etcd(const EtcdOptions& options) {
  if (options.endpoints.empty()) return fail("etcd: no endpoints", "Invalid");
  auto s = std::make_unique<EtcdStore>(options);
  K3DPP_TRY(s->open());
  return std::unique_ptr<Store>(std::move(s));
}

Result<std::vector<EtcdMember>> etcd_member_list(const EtcdOptions& options) {
  auto stub = pb::Cluster::NewStub(make_channel(options));
  pb::MemberListRequest req;
  pb::MemberListResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options.timeout);
  auto s = stub->MemberList(&ctx, req, &resp);
  if (!s.ok()) return Unexpected<Error>{grpc_error("member list", s)};
  std::vector<EtcdMember> out;
  for (const auto& m : resp.members()) out.push_back(to_member(m));
  return out;
}

Result<std::pair<EtcdMember, std::vector<EtcdMember>>> etcd_member_add(const EtcdOptions& options,
                                                                       const std::vector<std::string>& peer_urls,
                                                                       bool learner) {
  auto stub = pb::Cluster::NewStub(make_channel(options));
  pb::MemberAddRequest req;
  for (const auto& u : peer_urls) req.add_peerurls(u);
  req.set_islearner(learner);
  pb::MemberAddResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options.timeout);
  auto s = stub->MemberAdd(&ctx, req, &resp);
  if (!s.ok()) return Unexpected<Error>{grpc_error("member add", s)};
  std::vector<EtcdMember> all;
  for (const auto& m : resp.members()) all.push_back(to_member(m));
  return std::make_pair(to_member(resp.member()), std::move(all));
}

Status etcd_member_promote(const EtcdOptions& options, uint64_t id) {
  auto stub = pb::Cluster::NewStub(make_channel(options));
  pb::MemberPromoteRequest req;
  req.set_id(id);
  pb::MemberPromoteResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options.timeout);
  auto s = stub->MemberPromote(&ctx, req, &resp);
  if (!s.ok()) {
    Error e = grpc_error("member promote", s);
    if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) e.kind = "FailedPrecondition";
    return unexpected(e);
  }
  return {};
}

Status etcd_member_remove(const EtcdOptions& options, uint64_t id) {
  auto stub = pb::Cluster::NewStub(make_channel(options));
  pb::MemberRemoveRequest req;
  req.set_id(id);
  pb::MemberRemoveResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options.timeout);
  auto s = stub->MemberRemove(&ctx, req, &resp);
  if (!s.ok()) return Unexpected<Error>{grpc_error("member remove", s)};
  return {};
}

}  // namespace k3dpp::store
