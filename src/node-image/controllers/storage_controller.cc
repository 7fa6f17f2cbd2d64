// PersistentVolume controller (binder) and the built-in local-path provisioner:
// - creates the default `local-path` StorageClass at start when missing;
// - binds unbound claims to the smallest matching Available PV (claimRef, volumeName,
//   bind-completed / bound-by-controller annotations, phases Bound);
// - WaitForFirstConsumer: waits for volume.kubernetes.io/selected-node (set by the scheduler),
//   then provisions pvc-<uid> on that node for classes of provisioner rancher.io/local-path;
// - a PV whose claim is gone becomes Released; reclaim Delete removes it, Retain keeps it.
// Keys: "c|ns/name" (claims) and "v|name" (volumes).
#include <set>

#include "controllers/internal.h"
#include "controllers/storage.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

std::string phase_of(const json& o) { return o.contains("status") ? jvalue(o["status"], "phase", "") : ""; }

class StorageController : public Controller {
 public:
  explicit StorageController(Context ctx)
      : Controller(ctx, "persistentvolume-binder", 1),
        pvcs_(ctx.informers.get(client::res::kPersistentVolumeClaims)),
        pvs_(ctx.informers.get(client::res::kPersistentVolumes)),
        classes_(ctx.informers.get(client::res::kStorageClasses)),
        nodes_(ctx.informers.get(client::res::kNodes)),
        binder_events_(ctx.client, "persistentvolume-controller"),
        provisioner_events_(ctx.client, "rancher.io/local-path_local-path-provisioner") {}

  void setup() override {
    auto claim = [this](const json& o) { enqueue("c|" + client::object_key(o)); };
    pvcs_.add_handlers({claim, [claim](const json&, const json& o) { claim(o); },
                        [this](const json& o) {
                          // A deleted claim releases its volume.
                          std::string v = jvalue(o["spec"], "volumeName", "");
                          if (!v.empty()) enqueue("v|" + v);
                        }});
    auto vol = [this](const json& o) { enqueue("v|" + meta_str(o, "name")); };
    pvs_.add_handlers({vol, [vol](const json&, const json& o) { vol(o); }, [this](const json& o) {
                         const json& ref = jvalue(o["spec"], "claimRef", json());
                         if (ref.is_object()) enqueue("c|" + client::object_key(jvalue(ref, "namespace", ""), jvalue(ref, "name", "")));
                       }});
    auto cls = [this](const json&) { enqueue_pending_claims(); };
    classes_.add_handlers({cls, [cls](const json&, const json& o) { cls(o); }, nullptr});
  }

  void start() override {
    if (classes_.list().empty() || !classes_.get("", kLocalPathClass)) {
      auto r = ctx_.client.create(client::res::kStorageClasses, "", local_path_storage_class());
      if (r) {
        log_->info("created StorageClass {}", kLocalPathClass);
      } else if (r.error().kind != "AlreadyExists") {
        log_->warn("create StorageClass {}: {}", kLocalPathClass, r.error().message);
      }
    }
    Controller::start();
  }

 private:
  void enqueue_pending_claims() {
    for (const auto& c : pvcs_.list()) {
      if (jvalue((*c)["spec"], "volumeName", "").empty()) enqueue("c|" + client::object_key(*c));
    }
  }

  std::optional<std::chrono::milliseconds> sync(const std::string& qkey) override {
    std::string key = qkey.substr(2);
    if (qkey[0] == 'c') return sync_claim(key);
    return sync_volume(key);
  }

  std::optional<std::chrono::milliseconds> set_claim_status(const json& pvc, const std::string& phase, const json* pv) {
    json next = pvc;
    json want = jvalue(pvc, "status", json::object());
    want["phase"] = phase;
    if (pv != nullptr) {
      want["accessModes"] = jvalue((*pv)["spec"], "accessModes", json::array());
      want["capacity"] = jvalue((*pv)["spec"], "capacity", json::object());
    } else {
      want.erase("accessModes");
      want.erase("capacity");
    }
    if (jvalue(pvc, "status", json::object()) == want) return std::nullopt;
    next["status"] = want;
    auto r = ctx_.client.update_status(client::res::kPersistentVolumeClaims, meta_str(pvc, "namespace"), next);
    if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(200);
    return std::nullopt;
  }

  std::optional<std::chrono::milliseconds> set_volume_phase(const json& pv, const std::string& phase) {
    if (phase_of(pv) == phase) return std::nullopt;
    json next = pv;
    next["status"]["phase"] = phase;
    auto r = ctx_.client.update_status(client::res::kPersistentVolumes, "", next);
    if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(200);
    return std::nullopt;
  }

  std::optional<std::chrono::milliseconds> sync_claim(const std::string& key) {
    auto pvc = pvcs_.get(key);
    if (!pvc || is_deleting(*pvc)) return std::nullopt;
    auto [ns, name] = split_key(key);
    std::string volume = jvalue((*pvc)["spec"], "volumeName", "");
    if (!volume.empty()) {
      auto pv = pvs_.get("", volume);
      if (!pv) {
        if (phase_of(*pvc) == "Bound") {
          binder_events_.record(*pvc, "Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
          return set_claim_status(*pvc, "Lost", nullptr);
        }
        // Not in the informer yet (the volume's watch lags the claim's) or really missing; the
        // volume's add event re-queues this claim.
        return set_claim_status(*pvc, "Pending", nullptr);
      }
      const json ref = jvalue((*pv)["spec"], "claimRef", json());
      if (!ref.is_object()) return bind(*pv, *pvc);  // user pre-bound the claim
      if (jvalue(ref, "namespace", "") != ns || jvalue(ref, "name", "") != name ||
          (!jvalue(ref, "uid", "").empty() && jvalue(ref, "uid", "") != meta_str(*pvc, "uid"))) {
        return set_claim_status(*pvc, "Pending", nullptr);  // the volume is someone else's
      }
      return bind(*pv, *pvc);
    }
    // Unbound: look for a volume.
    std::string cls_name = claim_class(*pvc);
    client::ObjectPtr cls = cls_name.empty() ? nullptr : classes_.get("", cls_name);
    bool wait_first_consumer = cls && jvalue(*cls, "volumeBindingMode", "Immediate") == "WaitForFirstConsumer";
    std::string selected = annotations_of(*pvc).value(kSelectedNodeAnnotation, "");
    client::ObjectPtr node = selected.empty() ? nullptr : nodes_.get("", selected);
    if (wait_first_consumer && selected.empty()) {
      binder_events_.record(*pvc, "Normal", "WaitForFirstConsumer",
                           "waiting for first consumer to be created before binding");
      return set_claim_status(*pvc, "Pending", nullptr);
    }
    auto pv_ptrs = pvs_.list();
    std::vector<const json*> pvs;
    for (const auto& p : pv_ptrs) pvs.push_back(p.get());
    const json* best = find_best_volume(pvs, *pvc, node ? node.get() : nullptr);
    if (best != nullptr) return bind(*best, *pvc);
    if (cls && jvalue(*cls, "provisioner", "") == kLocalPathProvisioner) {
      if (selected.empty()) {
        // Immediate binding with local-path: no node chosen yet; pick none (as local-path does,
        // it needs a node). Wait for a consumer anyway.
        binder_events_.record(*pvc, "Normal", "WaitForFirstConsumer",
                             "waiting for first consumer to be created before binding");
        return set_claim_status(*pvc, "Pending", nullptr);
      }
      return provision(*pvc, *cls, selected);
    }
    if (cls) {
      binder_events_.record(*pvc, "Normal", "ExternalProvisioning",
                           "Waiting for a volume to be created either by the external provisioner '" +
                               jvalue(*cls, "provisioner", "") +
                               "' or manually by the system administrator. If volume creation is delayed, please "
                               "verify that the provisioner is running and correctly registered.");
    } else if (cls_name.empty()) {
      binder_events_.record(*pvc, "Normal", "FailedBinding",
                           "no persistent volumes available for this claim and no storage class is set");
    } else {
      binder_events_.record(*pvc, "Warning", "ProvisioningFailed",
                           "storageclass.storage.k8s.io \"" + cls_name + "\" not found");
    }
    return set_claim_status(*pvc, "Pending", nullptr);
  }

  std::optional<std::chrono::milliseconds> provision(const json& pvc, const json& cls, const std::string& node) {
    std::string ns = meta_str(pvc, "namespace"), name = meta_str(pvc, "name");
    std::string pv_name = "pvc-" + meta_str(pvc, "uid");
    if (!pvs_.get("", pv_name)) {
      binder_events_.record(pvc, "Normal", "ExternalProvisioning",
                            "Waiting for a volume to be created either by the external provisioner '" +
                                jvalue(cls, "provisioner", "") +
                                "' or manually by the system administrator. If volume creation is delayed, please "
                                "verify that the provisioner is running and correctly registered.");
      provisioner_events_.record(pvc, "Normal", "Provisioning",
                           "External provisioner is provisioning volume for claim \"" + ns + "/" + name + "\"");
      auto r = ctx_.client.create(client::res::kPersistentVolumes, "", local_path_volume(pvc, cls, node));
      if (!r && r.error().kind != "AlreadyExists") {
        provisioner_events_.record(pvc, "Warning", "ProvisioningFailed", "failed to provision volume with StorageClass \"" +
                                                                      meta_str(cls, "name") + "\": " + r.error().message);
        return std::chrono::milliseconds(2000);
      }
      provisioner_events_.record(pvc, "Normal", "ProvisioningSucceeded", "Successfully provisioned volume " + pv_name);
      if (r) return bind(*r, pvc);
    }
    return std::chrono::milliseconds(200);  // bind once the informer shows the PV
  }

  // Both halves of a binding: the PV's claimRef (+ Bound), then the claim's volumeName,
  // annotations and status.
  std::optional<std::chrono::milliseconds> bind(const json& pv_in, const json& pvc) {
    std::string ns = meta_str(pvc, "namespace"), name = meta_str(pvc, "name");
    json pv = pv_in;
    const json ref = jvalue(pv["spec"], "claimRef", json());
    bool ref_ok = ref.is_object() && jvalue(ref, "uid", "") == meta_str(pvc, "uid") &&
                  jvalue(ref, "name", "") == name && jvalue(ref, "namespace", "") == ns;
    if (!ref_ok) {
      pv["spec"]["claimRef"] = {{"kind", "PersistentVolumeClaim"},
                                {"namespace", ns},
                                {"name", name},
                                {"uid", meta_str(pvc, "uid")},
                                {"apiVersion", "v1"},
                                {"resourceVersion", meta_str(pvc, "resourceVersion")}};
      if (!ref.is_object()) pv["metadata"]["annotations"][kBoundByControllerAnnotation] = "yes";
      auto r = ctx_.client.update(client::res::kPersistentVolumes, "", pv);
      if (!r) return std::chrono::milliseconds(200);
      pv = *r;
    }
    if (auto again = set_volume_phase(pv, "Bound")) return again;
    json claim = pvc;
    bool changed = false;
    if (jvalue(claim["spec"], "volumeName", "") != meta_str(pv, "name")) {
      claim["spec"]["volumeName"] = meta_str(pv, "name");
      claim["metadata"]["annotations"][kBoundByControllerAnnotation] = "yes";
      changed = true;
    }
    if (annotations_of(claim).value(kBindCompletedAnnotation, "") != "yes") {
      claim["metadata"]["annotations"][kBindCompletedAnnotation] = "yes";
      changed = true;
    }
    if (changed) {
      auto r = ctx_.client.update(client::res::kPersistentVolumeClaims, ns, claim);
      if (!r) return std::chrono::milliseconds(200);
      claim = *r;
    }
    return set_claim_status(claim, "Bound", &pv);
  }

  std::optional<std::chrono::milliseconds> sync_volume(const std::string& name) {
    auto pv = pvs_.get("", name);
    if (!pv) return std::nullopt;
    if (is_deleting(*pv)) return std::nullopt;
    const json ref = jvalue((*pv)["spec"], "claimRef", json());
    if (!ref.is_object()) {
      auto again = set_volume_phase(*pv, "Available");
      if (phase_of(*pv) != "Available") enqueue_pending_claims();
      return again;
    }
    auto claim = pvcs_.get(jvalue(ref, "namespace", ""), jvalue(ref, "name", ""));
    std::string uid = jvalue(ref, "uid", "");
    if (claim && (uid.empty() || meta_str(*claim, "uid") == uid)) {
      if (jvalue((*claim)["spec"], "volumeName", "") == name) {
        // The claim may have been synced before this volume reached the informer (the two
        // watches race): it then stayed Pending, so finish its half of the binding too.
        if (phase_of(*claim) != "Bound") enqueue("c|" + client::object_key(*claim));
        return set_volume_phase(*pv, "Bound");
      }
      enqueue("c|" + client::object_key(*claim));
      if (uid.empty()) return set_volume_phase(*pv, "Available");
      return std::nullopt;
    }
    if (uid.empty()) return set_volume_phase(*pv, "Available");  // pre-bound to a claim not created yet
    // The claim is gone: confirm with the API server before releasing.
    auto live = ctx_.client.get(client::res::kPersistentVolumeClaims, jvalue(ref, "namespace", ""), jvalue(ref, "name", ""));
    if (live && meta_str(*live, "uid") == uid) return std::chrono::milliseconds(200);
    if (!live && live.error().kind != "NotFound") return std::chrono::milliseconds(1000);
    if (phase_of(*pv) != "Released" && phase_of(*pv) != "Failed") {
      if (auto again = set_volume_phase(*pv, "Released")) return again;
    }
    std::string policy = jvalue((*pv)["spec"], "persistentVolumeReclaimPolicy", "Retain");
    if (policy == "Delete") {
      auto r = ctx_.client.remove(client::res::kPersistentVolumes, "", name);
      if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(1000);
      log_->info("deleted released volume {} (reclaim policy Delete)", name);
    } else if (policy == "Recycle") {
      binder_events_.record(*pv, "Warning", "VolumeFailedRecycle", "Recycle is not supported");
    }
    return std::nullopt;
  }

  client::Informer& pvcs_;
  client::Informer& pvs_;
  client::Informer& classes_;
  client::Informer& nodes_;
  // Sources as kubectl describe shows them in a k3s cluster.
  EventRecorder binder_events_;
  EventRecorder provisioner_events_;
};

}  // namespace

std::unique_ptr<Controller> make_storage_controller(Context ctx) { return std::make_unique<StorageController>(ctx); }

}  // namespace k3dpp::controllers
