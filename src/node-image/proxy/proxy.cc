#include "proxy/proxy.h"

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "proxy/exec.h"

namespace k3dpp::proxy {
namespace {

Result<std::string> run_checked(const std::vector<std::string>& prefix, const std::vector<std::string>& extra,
                                const std::string& input) {
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto r = run_program(argv, input);
  if (!r) return r.error().wrap(strings::join(argv, " "));
  if (r->exit_code != 0)
    return fail(strings::join(argv, " ") + " exited " + std::to_string(r->exit_code) + ": " +
                std::string(strings::trim(r->output)));
  return std::move(r->output);
}

std::vector<json> to_jsons(const std::vector<client::ObjectPtr>& objs) {
  std::vector<json> out;
  out.reserve(objs.size());
  for (const auto& o : objs)
    if (o) out.push_back(*o);
  return out;
}

}  // namespace

Status RuleSyncer::apply(const ProxyState& state) {
  std::string save;
  for (const char* table : {"nat", "filter"}) {
    auto s = run_checked(cmds_.save, {"-t", table}, {});
    if (!s) return s.error().wrap("reading iptables");
    save += *s;
  }
  std::string text = render_rules(state, present_jumps(save), dynamic_chains_in_save(save));
  auto r = run_checked(cmds_.restore, {"--noflush"}, text);
  if (!r) return r.error().wrap("applying service rules");
  last_rules_ = std::move(text);
  return {};
}

Proxy::Proxy(client::ApiClient& client, ProxyConfig config)
    : config_(std::move(config)),
      syncer_(config_.iptables),
      services_(std::make_unique<client::Informer>(client, client::res::kServices)),
      slices_(std::make_unique<client::Informer>(client, client::res::kEndpointSlices)),
      endpoints_(std::make_unique<client::Informer>(client, client::res::kEndpoints)) {
  client::InformerHandlers h;
  h.on_add = [this](const json&) { mark_dirty(); };
  h.on_update = [this](const json&, const json&) { mark_dirty(); };
  h.on_delete = [this](const json&) { mark_dirty(); };
  services_->add_handlers(h);
  slices_->add_handlers(h);
  endpoints_->add_handlers(h);
}

Proxy::~Proxy() { stop(); }

void Proxy::start() {
  if (thread_.joinable()) return;
  // Bridged pod-to-pod traffic must see the nat table for service replies (best effort: the file
  // exists only where br_netfilter is loaded).
  const char* kBridgeNf = "/proc/sys/net/bridge/bridge-nf-call-iptables";
  if (config_.set_bridge_nf_call_iptables && files::exists(kBridgeNf)) {
    auto cur = files::read(kBridgeNf);
    if (cur && strings::trim(*cur) != "1") {
      FILE* f = std::fopen(kBridgeNf, "w");
      if (f) {
        std::fputs("1\n", f);
        std::fclose(f);
      }
    }
  }
  services_->start();
  slices_->start();
  endpoints_->start();
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

void Proxy::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
  }
  for (auto* i : {services_.get(), slices_.get(), endpoints_.get()}) i->request_stop();
  services_->stop();
  slices_->stop();
  endpoints_->stop();
}

void Proxy::mark_dirty() {
  {
    std::lock_guard lk(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

ProxyState Proxy::current_state() const {
  return build_state(to_jsons(services_->list()), to_jsons(slices_->list()), to_jsons(endpoints_->list()),
                     config_.pod_cidr, config_.dns);
}

size_t Proxy::applies() const {
  std::lock_guard lk(mu_);
  return applies_;
}

std::optional<std::vector<json>> Proxy::services_in(const std::string& ns) const {
  if (!services_ || !services_->synced()) return std::nullopt;
  std::vector<json> out;
  for (const auto& s : services_->list(ns)) out.push_back(*s);
  return out;
}

void Proxy::run(std::stop_token stop) {
  auto logger = log::get("proxy");
  const auto sync_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto* inf : {services_.get(), slices_.get(), endpoints_.get()}) {
    while (!stop.stop_requested() && !inf->synced() && std::chrono::steady_clock::now() < sync_deadline)
      inf->wait_for_sync(std::chrono::milliseconds(100));
  }
  std::string last_text;
  auto last_apply = std::chrono::steady_clock::time_point{};
  while (!stop.stop_requested()) {
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, stop, config_.resync, [this] { return dirty_; });
      if (stop.stop_requested()) break;
      dirty_ = false;
    }
    // Coalesce a burst of events (a rollout touches many objects) into one transaction.
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, stop, config_.debounce, [] { return false; });
      dirty_ = false;
    }
    if (stop.stop_requested()) break;
    ProxyState state = current_state();
    std::string text = render_rules(state);
    const bool resync_due = std::chrono::steady_clock::now() - last_apply >= config_.resync;
    if (text == last_text && !resync_due) continue;
    auto st = syncer_.apply(state);
    if (!st) {
      logger->error("{}", st.error().message);
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, stop, config_.retry, [] { return false; });
      dirty_ = true;
      continue;
    }
    last_text = std::move(text);
    last_apply = std::chrono::steady_clock::now();
    size_t n = 0;
    for (const auto& s : state.services) n += s.ports.size();
    logger->debug("applied service rules: {} services, {} ports", state.services.size(), n);
    std::lock_guard lk(mu_);
    ++applies_;
  }
}

}  // namespace k3dpp::proxy
