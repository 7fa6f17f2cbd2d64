#include "controllers/manager.h"

#include "controllers/internal.h"

namespace k3dpp::controllers {

std::unique_ptr<Controller> make_service_lb_controller(Context ctx);  // service_lb_controller.cc
std::unique_ptr<Controller> make_job_controller(Context ctx);         // job_controller.cc
std::unique_ptr<Controller> make_cronjob_controller(Context ctx);     // cronjob_controller.cc

struct ControllerManager::Impl {
  Impl(client::ApiClient& c, ManagerOptions o)
      : client(c), options(std::move(o)), informers(c), recorder(c, "controller-manager") {}
  client::ApiClient& client;
  ManagerOptions options;
  SharedInformers informers;
  EventRecorder recorder;
  std::vector<std::unique_ptr<Controller>> controllers;
  bool started = false;
};

ControllerManager::ControllerManager(client::ApiClient& client, ManagerOptions options)
    : impl_(std::make_unique<Impl>(client, std::move(options))) {}

ControllerManager::~ControllerManager() { stop(); }

Status ControllerManager::start() {
  if (impl_->started) return {};
  Context ctx{impl_->client, impl_->informers, impl_->recorder, impl_->options};
  const auto& o = impl_->options;
  auto add = [&](std::unique_ptr<Controller> c) {
    if (c) impl_->controllers.push_back(std::move(c));
  };
  add(make_replicaset_controller(ctx));
  add(make_deployment_controller(ctx));
  if (o.garbage_collector) add(make_garbage_collector(ctx));
  if (o.namespace_controller) add(make_namespace_controller(ctx));
  if (o.endpoints) add(make_endpoints_controller(ctx));
  if (o.node_lifecycle) add(make_node_lifecycle_controller(ctx));
  if (o.storage) add(make_storage_controller(ctx));
  add(make_service_lb_controller(ctx));
  add(make_job_controller(ctx));
  add(make_cronjob_controller(ctx));
  for (auto& c : impl_->controllers) c->setup();
  impl_->informers.start_all();
  impl_->started = true;
  if (!impl_->informers.wait_all(std::chrono::duration_cast<std::chrono::milliseconds>(o.cache_sync_timeout))) {
    stop();
    return fail("controllers: informer caches did not sync within " + std::to_string(o.cache_sync_timeout.count()) +
                    "s",
                "Timeout");
  }
  for (auto& c : impl_->controllers) c->start();
  log::get("controllers")->info("controllers started ({})", impl_->controllers.size());
  return {};
}

void ControllerManager::stop() {
  if (!impl_ || !impl_->started) return;
  for (auto& c : impl_->controllers) c->stop();
  impl_->informers.stop_all();
  impl_->controllers.clear();
  impl_->started = false;
}

// Controllers not built yet return nullptr (see their .cc files once they exist).
__attribute__((weak)) std::unique_ptr<Controller> make_namespace_controller(Context) { return nullptr; }

}  // namespace k3dpp::controllers
