// Known fields of every served kind, as a compact table of Go-like struct definitions, and the
// walkers over it: unknown fields (strict decoding), JSON type errors, pruning.
// Type strings: string, string:GoTypeName (a named string type, for messages), int32, int64, bool,
// float64, intstr, quantity, time, any (free-form),
// []T, map[string]T, or the name of a struct in the table.
#include <map>
#include <mutex>
#include <utility>

#include "node-image/schema/schema.h"
#include "node-image/schema/custom_types.h"

namespace k3dpp::schema {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// clang-format off
const std::vector<std::pair<std::string, Fields>>& struct_table() {
  static const std::vector<std::pair<std::string, Fields>> t = {
    // meta
    {"ObjectMeta", {{"name","string"},{"generateName","string"},{"namespace","string"},{"selfLink","string"},
      {"uid","string"},{"resourceVersion","string"},{"generation","int64"},{"creationTimestamp","time"},
      {"deletionTimestamp","time"},{"deletionGracePeriodSeconds","int64"},{"labels","map[string]string"},
      {"annotations","map[string]string"},{"ownerReferences","[]OwnerReference"},{"finalizers","[]string"},
      {"managedFields","[]any"}}},
    {"OwnerReference", {{"apiVersion","string"},{"kind","string"},{"name","string"},{"uid","string"},
      {"controller","bool"},{"blockOwnerDeletion","bool"}}},
    {"LabelSelector", {{"matchLabels","map[string]string"},{"matchExpressions","[]LabelSelectorRequirement"}}},
    {"LabelSelectorRequirement", {{"key","string"},{"operator","string"},{"values","[]string"}}},
    {"ObjectReference", {{"kind","string"},{"namespace","string"},{"name","string"},{"uid","string"},
      {"apiVersion","string"},{"resourceVersion","string"},{"fieldPath","string"}}},
    {"LocalObjectReference", {{"name","string"}}},
    // pods
    {"PodTemplateSpec", {{"metadata","ObjectMeta"},{"spec","PodSpec"}}},
    {"PodSpec", {{"volumes","[]Volume"},{"initContainers","[]Container"},{"containers","[]Container"},
      {"ephemeralContainers","[]any"},{"restartPolicy","string"},{"terminationGracePeriodSeconds","int64"},
      {"activeDeadlineSeconds","int64"},{"dnsPolicy","string"},{"nodeSelector","map[string]string"},
      {"serviceAccountName","string"},{"serviceAccount","string"},{"automountServiceAccountToken","bool"},
      {"nodeName","string"},{"hostNetwork","bool"},{"hostPID","bool"},{"hostIPC","bool"},
      {"shareProcessNamespace","bool"},{"securityContext","PodSecurityContext"},
      {"imagePullSecrets","[]LocalObjectReference"},{"hostname","string"},{"subdomain","string"},
      {"affinity","Affinity"},{"schedulerName","string"},{"tolerations","[]Toleration"},
      {"hostAliases","[]HostAlias"},{"priorityClassName","string"},{"priority","int32"},
      {"dnsConfig","PodDNSConfig"},{"readinessGates","[]PodReadinessGate"},{"runtimeClassName","string"},
      {"enableServiceLinks","bool"},{"preemptionPolicy","string"},{"overhead","map[string]quantity"},
      {"topologySpreadConstraints","[]TopologySpreadConstraint"},{"setHostnameAsFQDN","bool"},
      {"os","PodOS"},{"hostUsers","bool"},{"schedulingGates","[]PodSchedulingGate"},
      {"resourceClaims","[]any"},{"resources","ResourceRequirements"}}},
    {"Container", {{"name","string"},{"image","string"},{"command","[]string"},{"args","[]string"},
      {"workingDir","string"},{"ports","[]ContainerPort"},{"envFrom","[]EnvFromSource"},{"env","[]EnvVar"},
      {"resources","ResourceRequirements"},{"resizePolicy","[]ContainerResizePolicy"},{"restartPolicy","string"},
      {"volumeMounts","[]VolumeMount"},{"volumeDevices","[]VolumeDevice"},{"livenessProbe","Probe"},
      {"readinessProbe","Probe"},{"startupProbe","Probe"},{"lifecycle","Lifecycle"},
      {"terminationMessagePath","string"},{"terminationMessagePolicy","string"},{"imagePullPolicy","string"},
      {"securityContext","SecurityContext"},{"stdin","bool"},{"stdinOnce","bool"},{"tty","bool"}}},
    {"ContainerPort", {{"name","string"},{"hostPort","int32"},{"containerPort","int32"},{"protocol","string"},
      {"hostIP","string"}}},
    {"ContainerResizePolicy", {{"resourceName","string"},{"restartPolicy","string"}}},
    {"EnvVar", {{"name","string"},{"value","string"},{"valueFrom","EnvVarSource"}}},
    {"EnvVarSource", {{"fieldRef","ObjectFieldSelector"},{"resourceFieldRef","ResourceFieldSelector"},
      {"configMapKeyRef","ConfigMapKeySelector"},{"secretKeyRef","SecretKeySelector"}}},
    {"ObjectFieldSelector", {{"apiVersion","string"},{"fieldPath","string"}}},
    {"ResourceFieldSelector", {{"containerName","string"},{"resource","string"},{"divisor","quantity"}}},
    {"ConfigMapKeySelector", {{"name","string"},{"key","string"},{"optional","bool"}}},
    {"SecretKeySelector", {{"name","string"},{"key","string"},{"optional","bool"}}},
    {"EnvFromSource", {{"prefix","string"},{"configMapRef","ConfigMapEnvSource"},{"secretRef","SecretEnvSource"}}},
    {"ConfigMapEnvSource", {{"name","string"},{"optional","bool"}}},
    {"SecretEnvSource", {{"name","string"},{"optional","bool"}}},
    {"ResourceRequirements", {{"limits","map[string]quantity"},{"requests","map[string]quantity"},
      {"claims","[]ResourceClaim"}}},
    {"ResourceClaim", {{"name","string"},{"request","string"}}},
    {"VolumeMount", {{"name","string"},{"readOnly","bool"},{"recursiveReadOnly","string"},{"mountPath","string"},
      {"subPath","string"},{"mountPropagation","string"},{"subPathExpr","string"}}},
    {"VolumeDevice", {{"name","string"},{"devicePath","string"}}},
    {"Probe", {{"exec","ExecAction"},{"httpGet","HTTPGetAction"},{"tcpSocket","TCPSocketAction"},
      {"grpc","GRPCAction"},{"initialDelaySeconds","int32"},{"timeoutSeconds","int32"},{"periodSeconds","int32"},
      {"successThreshold","int32"},{"failureThreshold","int32"},{"terminationGracePeriodSeconds","int64"}}},
    {"ExecAction", {{"command","[]string"}}},
    {"HTTPGetAction", {{"path","string"},{"port","intstr"},{"host","string"},{"scheme","string"},
      {"httpHeaders","[]HTTPHeader"}}},
    {"HTTPHeader", {{"name","string"},{"value","string"}}},
    {"TCPSocketAction", {{"port","intstr"},{"host","string"}}},
    {"GRPCAction", {{"port","int32"},{"service","string"}}},
    {"Lifecycle", {{"postStart","LifecycleHandler"},{"preStop","LifecycleHandler"}}},
    {"LifecycleHandler", {{"exec","ExecAction"},{"httpGet","HTTPGetAction"},{"tcpSocket","TCPSocketAction"},
      {"sleep","SleepAction"}}},
    {"SleepAction", {{"seconds","int64"}}},
    {"SecurityContext", {{"capabilities","Capabilities"},{"privileged","bool"},{"seLinuxOptions","SELinuxOptions"},
      {"windowsOptions","any"},{"runAsUser","int64"},{"runAsGroup","int64"},{"runAsNonRoot","bool"},
      {"readOnlyRootFilesystem","bool"},{"allowPrivilegeEscalation","bool"},{"procMount","string"},
      {"seccompProfile","SeccompProfile"},{"appArmorProfile","AppArmorProfile"}}},
    {"Capabilities", {{"add","[]string"},{"drop","[]string"}}},
    {"SELinuxOptions", {{"user","string"},{"role","string"},{"type","string"},{"level","string"}}},
    {"SeccompProfile", {{"type","string"},{"localhostProfile","string"}}},
    {"AppArmorProfile", {{"type","string"},{"localhostProfile","string"}}},
    {"PodSecurityContext", {{"seLinuxOptions","SELinuxOptions"},{"windowsOptions","any"},{"runAsUser","int64"},
      {"runAsGroup","int64"},{"runAsNonRoot","bool"},{"supplementalGroups","[]int64"},
      {"supplementalGroupsPolicy","string"},{"fsGroup","int64"},{"sysctls","[]Sysctl"},
      {"fsGroupChangePolicy","string"},{"seccompProfile","SeccompProfile"},{"appArmorProfile","AppArmorProfile"},
      {"seLinuxChangePolicy","string"}}},
    {"Sysctl", {{"name","string"},{"value","string"}}},
    {"Volume", {{"name","string"},{"hostPath","HostPathVolumeSource"},{"emptyDir","EmptyDirVolumeSource"},
      {"secret","SecretVolumeSource"},{"persistentVolumeClaim","PersistentVolumeClaimVolumeSource"},
      {"configMap","ConfigMapVolumeSource"},{"downwardAPI","DownwardAPIVolumeSource"},
      {"projected","ProjectedVolumeSource"},{"nfs","NFSVolumeSource"},{"csi","CSIVolumeSource"},
      {"ephemeral","any"},{"image","ImageVolumeSource"},{"gcePersistentDisk","any"},
      {"awsElasticBlockStore","any"},{"gitRepo","any"},{"iscsi","any"},{"glusterfs","any"},{"rbd","any"},
      {"flexVolume","any"},{"cinder","any"},{"cephfs","any"},{"flocker","any"},{"fc","any"},{"azureFile","any"},
      {"azureDisk","any"},{"vsphereVolume","any"},{"quobyte","any"},{"photonPersistentDisk","any"},
      {"portworxVolume","any"},{"scaleIO","any"},{"storageos","any"}}},
    {"HostPathVolumeSource", {{"path","string"},{"type","string"}}},
    {"EmptyDirVolumeSource", {{"medium","string"},{"sizeLimit","quantity"}}},
    {"SecretVolumeSource", {{"secretName","string"},{"items","[]KeyToPath"},{"defaultMode","int32"},
      {"optional","bool"}}},
    {"ConfigMapVolumeSource", {{"name","string"},{"items","[]KeyToPath"},{"defaultMode","int32"},
      {"optional","bool"}}},
    {"KeyToPath", {{"key","string"},{"path","string"},{"mode","int32"}}},
    {"PersistentVolumeClaimVolumeSource", {{"claimName","string"},{"readOnly","bool"}}},
    {"DownwardAPIVolumeSource", {{"items","[]DownwardAPIVolumeFile"},{"defaultMode","int32"}}},
    {"DownwardAPIVolumeFile", {{"path","string"},{"fieldRef","ObjectFieldSelector"},
      {"resourceFieldRef","ResourceFieldSelector"},{"mode","int32"}}},
    {"ProjectedVolumeSource", {{"sources","[]VolumeProjection"},{"defaultMode","int32"}}},
    {"VolumeProjection", {{"secret","SecretProjection"},{"downwardAPI","DownwardAPIProjection"},
      {"configMap","ConfigMapProjection"},{"serviceAccountToken","ServiceAccountTokenProjection"},
      {"clusterTrustBundle","any"}}},
    {"SecretProjection", {{"name","string"},{"items","[]KeyToPath"},{"optional","bool"}}},
    {"ConfigMapProjection", {{"name","string"},{"items","[]KeyToPath"},{"optional","bool"}}},
    {"DownwardAPIProjection", {{"items","[]DownwardAPIVolumeFile"}}},
    {"ServiceAccountTokenProjection", {{"audience","string"},{"expirationSeconds","int64"},{"path","string"}}},
    {"NFSVolumeSource", {{"server","string"},{"path","string"},{"readOnly","bool"}}},
    {"CSIVolumeSource", {{"driver","string"},{"readOnly","bool"},{"fsType","string"},
      {"volumeAttributes","map[string]string"},{"nodePublishSecretRef","LocalObjectReference"}}},
    {"ImageVolumeSource", {{"reference","string"},{"pullPolicy","string"}}},
    {"Affinity", {{"nodeAffinity","NodeAffinity"},{"podAffinity","PodAffinity"},{"podAntiAffinity","PodAntiAffinity"}}},
    {"NodeAffinity", {{"requiredDuringSchedulingIgnoredDuringExecution","NodeSelector"},
      {"preferredDuringSchedulingIgnoredDuringExecution","[]PreferredSchedulingTerm"}}},
    {"NodeSelector", {{"nodeSelectorTerms","[]NodeSelectorTerm"}}},
    {"NodeSelectorTerm", {{"matchExpressions","[]NodeSelectorRequirement"},{"matchFields","[]NodeSelectorRequirement"}}},
    {"NodeSelectorRequirement", {{"key","string"},{"operator","string"},{"values","[]string"}}},
    {"PreferredSchedulingTerm", {{"weight","int32"},{"preference","NodeSelectorTerm"}}},
    {"PodAffinity", {{"requiredDuringSchedulingIgnoredDuringExecution","[]PodAffinityTerm"},
      {"preferredDuringSchedulingIgnoredDuringExecution","[]WeightedPodAffinityTerm"}}},
    {"PodAntiAffinity", {{"requiredDuringSchedulingIgnoredDuringExecution","[]PodAffinityTerm"},
      {"preferredDuringSchedulingIgnoredDuringExecution","[]WeightedPodAffinityTerm"}}},
    {"PodAffinityTerm", {{"labelSelector","LabelSelector"},{"namespaces","[]string"},{"topologyKey","string"},
      {"namespaceSelector","LabelSelector"},{"matchLabelKeys","[]string"},{"mismatchLabelKeys","[]string"}}},
    {"WeightedPodAffinityTerm", {{"weight","int32"},{"podAffinityTerm","PodAffinityTerm"}}},
    {"Toleration", {{"key","string"},{"operator","string"},{"value","string"},{"effect","string"},
      {"tolerationSeconds","int64"}}},
    {"HostAlias", {{"ip","string"},{"hostnames","[]string"}}},
    {"PodDNSConfig", {{"nameservers","[]string"},{"searches","[]string"},{"options","[]PodDNSConfigOption"}}},
    {"PodDNSConfigOption", {{"name","string"},{"value","string"}}},
    {"PodReadinessGate", {{"conditionType","string"}}},
    {"PodSchedulingGate", {{"name","string"}}},
    {"PodOS", {{"name","string"}}},
    {"TopologySpreadConstraint", {{"maxSkew","int32"},{"topologyKey","string"},{"whenUnsatisfiable","string"},
      {"labelSelector","LabelSelector"},{"minDomains","int32"},{"nodeAffinityPolicy","string"},
      {"nodeTaintsPolicy","string"},{"matchLabelKeys","[]string"}}},
    // workloads
    {"DeploymentSpec", {{"replicas","int32"},{"selector","LabelSelector"},{"template","PodTemplateSpec"},
      {"strategy","DeploymentStrategy"},{"minReadySeconds","int32"},{"revisionHistoryLimit","int32"},
      {"paused","bool"},{"progressDeadlineSeconds","int32"}}},
    {"DeploymentStrategy", {{"type","string"},{"rollingUpdate","RollingUpdateDeployment"}}},
    {"RollingUpdateDeployment", {{"maxUnavailable","intstr"},{"maxSurge","intstr"}}},
    {"ReplicaSetSpec", {{"replicas","int32"},{"minReadySeconds","int32"},{"selector","LabelSelector"},
      {"template","PodTemplateSpec"}}},
    {"ReplicationControllerSpec", {{"replicas","int32"},{"minReadySeconds","int32"},
      {"selector","map[string]string"},{"template","PodTemplateSpec"}}},
    {"StatefulSetSpec", {{"replicas","int32"},{"selector","LabelSelector"},{"template","PodTemplateSpec"},
      {"volumeClaimTemplates","[]PersistentVolumeClaimTemplate"},{"serviceName","string"},
      {"podManagementPolicy","string"},{"updateStrategy","StatefulSetUpdateStrategy"},
      {"revisionHistoryLimit","int32"},{"minReadySeconds","int32"},
      {"persistentVolumeClaimRetentionPolicy","StatefulSetPersistentVolumeClaimRetentionPolicy"},
      {"ordinals","StatefulSetOrdinals"}}},
    {"PersistentVolumeClaimTemplate", {{"apiVersion","string"},{"kind","string"},{"metadata","ObjectMeta"},
      {"spec","PersistentVolumeClaimSpec"},{"status","any"}}},
    {"StatefulSetUpdateStrategy", {{"type","string"},{"rollingUpdate","RollingUpdateStatefulSetStrategy"}}},
    {"RollingUpdateStatefulSetStrategy", {{"partition","int32"},{"maxUnavailable","intstr"}}},
    {"StatefulSetPersistentVolumeClaimRetentionPolicy", {{"whenDeleted","string"},{"whenScaled","string"}}},
    {"StatefulSetOrdinals", {{"start","int32"}}},
    {"DaemonSetSpec", {{"selector","LabelSelector"},{"template","PodTemplateSpec"},
      {"updateStrategy","DaemonSetUpdateStrategy"},{"minReadySeconds","int32"},{"revisionHistoryLimit","int32"}}},
    {"DaemonSetUpdateStrategy", {{"type","string"},{"rollingUpdate","RollingUpdateDaemonSet"}}},
    {"RollingUpdateDaemonSet", {{"maxUnavailable","intstr"},{"maxSurge","intstr"}}},
    {"JobSpec", {{"parallelism","int32"},{"completions","int32"},{"activeDeadlineSeconds","int64"},
      {"podFailurePolicy","any"},{"successPolicy","any"},{"backoffLimit","int32"},
      {"backoffLimitPerIndex","int32"},{"maxFailedIndexes","int32"},{"selector","LabelSelector"},
      {"manualSelector","bool"},{"template","PodTemplateSpec"},{"ttlSecondsAfterFinished","int32"},
      {"completionMode","string"},{"suspend","bool"},{"podReplacementPolicy","string"},{"managedBy","string"}}},
    {"CronJobSpec", {{"schedule","string"},{"timeZone","string"},{"startingDeadlineSeconds","int64"},
      {"concurrencyPolicy","string"},{"suspend","bool"},{"jobTemplate","JobTemplateSpec"},
      {"successfulJobsHistoryLimit","int32"},{"failedJobsHistoryLimit","int32"}}},
    {"JobTemplateSpec", {{"metadata","ObjectMeta"},{"spec","JobSpec"}}},
    // services and endpoints
    {"ServiceSpec", {{"ports","[]ServicePort"},{"selector","map[string]string"},{"clusterIP","string"},
      {"clusterIPs","[]string"},{"type","string"},{"externalIPs","[]string"},{"sessionAffinity","string"},
      {"loadBalancerIP","string"},{"loadBalancerSourceRanges","[]string"},{"externalName","string"},
      {"externalTrafficPolicy","string"},{"healthCheckNodePort","int32"},{"publishNotReadyAddresses","bool"},
      {"sessionAffinityConfig","SessionAffinityConfig"},{"ipFamilies","[]string"},{"ipFamilyPolicy","string"},
      {"allocateLoadBalancerNodePorts","bool"},{"loadBalancerClass","string"},
      {"internalTrafficPolicy","string"},{"trafficDistribution","string"}}},
    {"ServicePort", {{"name","string"},{"protocol","string"},{"appProtocol","string"},{"port","int32"},
      {"targetPort","intstr"},{"nodePort","int32"}}},
    {"SessionAffinityConfig", {{"clientIP","ClientIPConfig"}}},
    {"ClientIPConfig", {{"timeoutSeconds","int32"}}},
    {"EndpointSubset", {{"addresses","[]EndpointAddress"},{"notReadyAddresses","[]EndpointAddress"},
      {"ports","[]EndpointPort"}}},
    {"EndpointAddress", {{"ip","string"},{"hostname","string"},{"nodeName","string"},{"targetRef","ObjectReference"}}},
    {"EndpointPort", {{"name","string"},{"port","int32"},{"protocol","string"},{"appProtocol","string"}}},
    {"Endpoint", {{"addresses","[]string"},{"conditions","EndpointConditions"},{"hostname","string"},
      {"targetRef","ObjectReference"},{"deprecatedTopology","map[string]string"},{"nodeName","string"},
      {"zone","string"},{"hints","any"}}},
    {"EndpointConditions", {{"ready","bool"},{"serving","bool"},{"terminating","bool"}}},
    {"EndpointSlicePort", {{"name","string"},{"protocol","string"},{"port","int32"},{"appProtocol","string"}}},
    // cluster objects
    {"NamespaceSpec", {{"finalizers","[]string"}}},
    {"NodeSpec", {{"podCIDR","string"},{"podCIDRs","[]string"},{"providerID","string"},{"unschedulable","bool"},
      {"taints","[]Taint"},{"configSource","any"},{"externalID","string"}}},
    {"Taint", {{"key","string"},{"value","string"},{"effect","string"},{"timeAdded","time"}}},
    {"PersistentVolumeSpec", {{"capacity","map[string]quantity"},{"accessModes","[]string"},
      {"claimRef","ObjectReference"},{"persistentVolumeReclaimPolicy","string"},{"storageClassName","string"},
      {"mountOptions","[]string"},{"volumeMode","string"},{"nodeAffinity","VolumeNodeAffinity"},
      {"volumeAttributesClassName","string"},{"hostPath","HostPathVolumeSource"},{"nfs","NFSVolumeSource"},
      {"local","LocalVolumeSource"},{"csi","any"},{"gcePersistentDisk","any"},{"awsElasticBlockStore","any"},
      {"iscsi","any"},{"glusterfs","any"},{"rbd","any"},{"flexVolume","any"},{"cinder","any"},{"cephfs","any"},
      {"flocker","any"},{"fc","any"},{"azureFile","any"},{"azureDisk","any"},{"vsphereVolume","any"},
      {"quobyte","any"},{"photonPersistentDisk","any"},{"portworxVolume","any"},{"scaleIO","any"},
      {"storageos","any"}}},
    {"LocalVolumeSource", {{"path","string"},{"fsType","string"}}},
    {"VolumeNodeAffinity", {{"required","NodeSelector"}}},
    {"PersistentVolumeClaimSpec", {{"accessModes","[]string"},{"selector","LabelSelector"},
      {"resources","VolumeResourceRequirements"},{"volumeName","string"},{"storageClassName","string"},
      {"volumeMode","string"},{"dataSource","TypedLocalObjectReference"},{"dataSourceRef","TypedObjectReference"},
      {"volumeAttributesClassName","string"}}},
    {"VolumeResourceRequirements", {{"limits","map[string]quantity"},{"requests","map[string]quantity"}}},
    {"TypedLocalObjectReference", {{"apiGroup","string"},{"kind","string"},{"name","string"}}},
    {"TypedObjectReference", {{"apiGroup","string"},{"kind","string"},{"name","string"},{"namespace","string"}}},
    {"LeaseSpec", {{"holderIdentity","string"},{"leaseDurationSeconds","int32"},{"acquireTime","time"},
      {"renewTime","time"},{"leaseTransitions","int32"},{"strategy","string"},{"preferredHolder","string"}}},
    {"EventSource", {{"component","string"},{"host","string"}}},
    {"EventSeries", {{"count","int32"},{"lastObservedTime","time"}}},
    // status: typed like spec (a number where a string belongs is refused at decode, not stored
    // for every reader to trip on). Fields not listed here stay free-form.
    {"PodStatus", {{"phase","string:v1.PodPhase"},{"conditions","[]PodCondition"},{"message","string"},
      {"reason","string"},{"nominatedNodeName","string"},{"hostIP","string"},{"hostIPs","[]HostIP"},
      {"podIP","string"},{"podIPs","[]PodIP"},{"startTime","time"},
      {"initContainerStatuses","[]ContainerStatus"},{"containerStatuses","[]ContainerStatus"},
      {"ephemeralContainerStatuses","[]ContainerStatus"},{"qosClass","string:v1.PodQOSClass"},
      {"resize","string:v1.PodResizeStatus"}}},
    {"PodCondition", {{"type","string:v1.PodConditionType"},{"status","string:v1.ConditionStatus"},
      {"lastProbeTime","time"},{"lastTransitionTime","time"},{"reason","string"},{"message","string"}}},
    {"HostIP", {{"ip","string"}}},
    {"PodIP", {{"ip","string"}}},
    {"ContainerStatus", {{"name","string"},{"state","ContainerState"},{"lastState","ContainerState"},
      {"ready","bool"},{"restartCount","int32"},{"image","string"},{"imageID","string"},
      {"containerID","string"},{"started","bool"}}},
    {"ContainerState", {{"waiting","ContainerStateWaiting"},{"running","ContainerStateRunning"},
      {"terminated","ContainerStateTerminated"}}},
    {"ContainerStateWaiting", {{"reason","string"},{"message","string"}}},
    {"ContainerStateRunning", {{"startedAt","time"}}},
    {"ContainerStateTerminated", {{"exitCode","int32"},{"signal","int32"},{"reason","string"},
      {"message","string"},{"startedAt","time"},{"finishedAt","time"},{"containerID","string"}}},
    {"NodeStatus", {{"capacity","map[string]quantity"},{"allocatable","map[string]quantity"},
      {"phase","string:v1.NodePhase"},{"conditions","[]NodeCondition"},{"addresses","[]NodeAddress"},
      {"nodeInfo","NodeSystemInfo"},{"volumesInUse","[]string"}}},
    {"NodeCondition", {{"type","string:v1.NodeConditionType"},{"status","string:v1.ConditionStatus"},
      {"lastHeartbeatTime","time"},{"lastTransitionTime","time"},{"reason","string"},{"message","string"}}},
    {"NodeAddress", {{"type","string:v1.NodeAddressType"},{"address","string"}}},
    {"NodeSystemInfo", {{"machineID","string"},{"systemUUID","string"},{"bootID","string"},
      {"kernelVersion","string"},{"osImage","string"},{"containerRuntimeVersion","string"},
      {"kubeletVersion","string"},{"kubeProxyVersion","string"},{"operatingSystem","string"},
      {"architecture","string"}}},
    {"DeploymentStatus", {{"observedGeneration","int64"},{"replicas","int32"},{"updatedReplicas","int32"},
      {"readyReplicas","int32"},{"availableReplicas","int32"},{"unavailableReplicas","int32"},
      {"terminatingReplicas","int32"},{"conditions","[]DeploymentCondition"},{"collisionCount","int32"}}},
    {"DeploymentCondition", {{"type","string:v1.DeploymentConditionType"},{"status","string:v1.ConditionStatus"},
      {"lastUpdateTime","time"},{"lastTransitionTime","time"},{"reason","string"},{"message","string"}}},
    {"ReplicaSetStatus", {{"replicas","int32"},{"fullyLabeledReplicas","int32"},{"readyReplicas","int32"},
      {"availableReplicas","int32"},{"terminatingReplicas","int32"},{"observedGeneration","int64"},
      {"conditions","[]ReplicaSetCondition"}}},
    {"ReplicaSetCondition", {{"type","string:v1.ReplicaSetConditionType"},{"status","string:v1.ConditionStatus"},
      {"lastTransitionTime","time"},{"reason","string"},{"message","string"}}},
    {"StatefulSetStatus", {{"observedGeneration","int64"},{"replicas","int32"},{"readyReplicas","int32"},
      {"currentReplicas","int32"},{"updatedReplicas","int32"},{"currentRevision","string"},
      {"updateRevision","string"},{"collisionCount","int32"},{"availableReplicas","int32"}}},
    {"DaemonSetStatus", {{"currentNumberScheduled","int32"},{"numberMisscheduled","int32"},
      {"desiredNumberScheduled","int32"},{"numberReady","int32"},{"observedGeneration","int64"},
      {"updatedNumberScheduled","int32"},{"numberAvailable","int32"},{"numberUnavailable","int32"},
      {"collisionCount","int32"}}},
    {"JobStatus", {{"startTime","time"},{"completionTime","time"},{"active","int32"},{"succeeded","int32"},
      {"failed","int32"},{"terminating","int32"},{"ready","int32"},{"completedIndexes","string"},
      {"failedIndexes","string"}}},
    {"CronJobStatus", {{"active","[]ObjectReference"},{"lastScheduleTime","time"},{"lastSuccessfulTime","time"}}},
    {"ServiceStatus", {{"loadBalancer","LoadBalancerStatus"}}},
    {"LoadBalancerStatus", {{"ingress","[]LoadBalancerIngress"}}},
    {"LoadBalancerIngress", {{"ip","string"},{"hostname","string"},{"ipMode","string:v1.LoadBalancerIPMode"}}},
    {"NamespaceStatus", {{"phase","string:v1.NamespacePhase"}}},
    {"PersistentVolumeStatus", {{"phase","string:v1.PersistentVolumePhase"},{"message","string"},
      {"reason","string"},{"lastPhaseTransitionTime","time"}}},
    {"PersistentVolumeClaimStatus", {{"phase","string:v1.PersistentVolumeClaimPhase"},{"accessModes","[]string"},
      {"capacity","map[string]quantity"}}},
  };
  return t;
}

// Top-level fields of each kind (apiVersion, kind, metadata are added for all).
const std::map<std::string, Fields>& root_table() {
  static const std::map<std::string, Fields> t = {
    {"Pod", {{"spec","PodSpec"},{"status","PodStatus"}}},
    {"Deployment", {{"spec","DeploymentSpec"},{"status","DeploymentStatus"}}},
    {"ReplicaSet", {{"spec","ReplicaSetSpec"},{"status","ReplicaSetStatus"}}},
    {"ReplicationController", {{"spec","ReplicationControllerSpec"},{"status","any"}}},
    {"StatefulSet", {{"spec","StatefulSetSpec"},{"status","StatefulSetStatus"}}},
    {"DaemonSet", {{"spec","DaemonSetSpec"},{"status","DaemonSetStatus"}}},
    {"ControllerRevision", {{"data","any"},{"revision","int64"}}},
    {"Job", {{"spec","JobSpec"},{"status","JobStatus"}}},
    {"CronJob", {{"spec","CronJobSpec"},{"status","CronJobStatus"}}},
    {"Service", {{"spec","ServiceSpec"},{"status","ServiceStatus"}}},
    {"Endpoints", {{"subsets","[]EndpointSubset"}}},
    {"EndpointSlice", {{"addressType","string"},{"endpoints","[]Endpoint"},{"ports","[]EndpointSlicePort"}}},
    {"ConfigMap", {{"data","map[string]string"},{"binaryData","map[string]string"},{"immutable","bool"}}},
    {"Secret", {{"data","map[string]string"},{"stringData","map[string]string"},{"type","string"},
      {"immutable","bool"}}},
    {"Namespace", {{"spec","NamespaceSpec"},{"status","NamespaceStatus"}}},
    {"Node", {{"spec","NodeSpec"},{"status","NodeStatus"}}},
    {"PersistentVolume", {{"spec","PersistentVolumeSpec"},{"status","PersistentVolumeStatus"}}},
    {"PersistentVolumeClaim", {{"spec","PersistentVolumeClaimSpec"},{"status","PersistentVolumeClaimStatus"}}},
    {"StorageClass", {{"provisioner","string"},{"parameters","map[string]string"},{"reclaimPolicy","string"},
      {"mountOptions","[]string"},{"allowVolumeExpansion","bool"},{"volumeBindingMode","string"},
      {"allowedTopologies","[]any"}}},
    {"Lease", {{"spec","LeaseSpec"}}},
    {"ServiceAccount", {{"secrets","[]ObjectReference"},{"imagePullSecrets","[]LocalObjectReference"},
      {"automountServiceAccountToken","bool"}}},
    {"Binding", {{"target","ObjectReference"}}},
    {"CustomResourceDefinition", {{"spec","CustomResourceDefinitionSpec"},{"status","any"}}},
    {"CustomResourceDefinitionSpec", {{"group","string"},{"names","CustomResourceDefinitionNames"},
      {"scope","string"},{"versions","[]CustomResourceDefinitionVersion"},{"conversion","any"},
      {"preserveUnknownFields","bool"}}},
    {"CustomResourceDefinitionNames", {{"plural","string"},{"singular","string"},{"shortNames","[]string"},
      {"kind","string"},{"listKind","string"},{"categories","[]string"}}},
    {"CustomResourceDefinitionVersion", {{"name","string"},{"served","bool"},{"storage","bool"},
      {"deprecated","bool"},{"deprecationWarning","string"},{"schema","any"},{"subresources","any"},
      {"additionalPrinterColumns","[]any"},{"selectableFields","[]any"}}},
    {"LimitRange", {{"spec","any"}}},
    {"ResourceQuota", {{"spec","any"},{"status","any"}}},
    {"Ingress", {{"spec","any"},{"status","any"}}},
    {"IngressClass", {{"spec","any"}}},
    {"PodDisruptionBudget", {{"spec","any"},{"status","any"}}},
    {"core/Event", {{"involvedObject","ObjectReference"},{"reason","string"},{"message","string"},
      {"source","EventSource"},{"firstTimestamp","time"},{"lastTimestamp","time"},{"count","int32"},
      {"type","string"},{"eventTime","time"},{"series","EventSeries"},{"action","string"},
      {"related","ObjectReference"},{"reportingComponent","string"},{"reportingInstance","string"}}},
    {"events/Event", {{"eventTime","time"},{"series","EventSeries"},{"reportingController","string"},
      {"reportingInstance","string"},{"action","string"},{"reason","string"},{"regarding","ObjectReference"},
      {"related","ObjectReference"},{"note","string"},{"type","string"},{"deprecatedSource","EventSource"},
      {"deprecatedFirstTimestamp","time"},{"deprecatedLastTimestamp","time"},{"deprecatedCount","int32"}}},
  };
  return t;
}
// clang-format on

enum class Kind { kString, kInt32, kInt64, kBool, kFloat, kIntStr, kQuantity, kTime, kAny, kArray, kMap, kStruct };

struct Node;
struct StructDef {
  std::string name;
  std::map<std::string, const Node*> fields;
};
struct Node {
  Kind kind = Kind::kAny;
  const Node* elem = nullptr;       // array/map element
  const StructDef* def = nullptr;   // struct
  std::string go_name;              // for error messages: "[]v1.Container", "int32"
};

class Graph {
 public:
  Graph() {
    for (const auto& [name, fields] : struct_table()) structs_[name].name = name;
    for (const auto& [name, fields] : struct_table()) {
      for (const auto& [f, type] : fields) structs_[name].fields[f] = node(type);
    }
    for (const auto& [key, fields] : root_table()) {
      std::string name = key.substr(key.find('/') == std::string::npos ? 0 : key.find('/') + 1);
      StructDef& d = roots_[key];
      d.name = name;
      d.fields["apiVersion"] = node("string");
      d.fields["kind"] = node("string");
      d.fields["metadata"] = node("ObjectMeta");
      for (const auto& [f, type] : fields) d.fields[f] = node(type);
      Node& n = root_nodes_[key];
      n.kind = Kind::kStruct;
      n.def = &d;
      n.go_name = "v1." + name;
    }
  }

  const Node* root(const ResourceType& t) const {
    std::string key = t.kind;
    if (t.kind == "Event") key = t.group.empty() ? "core/Event" : "events/Event";
    auto it = root_nodes_.find(key);
    return it == root_nodes_.end() ? nullptr : &it->second;
  }

 private:
  const Node* node(const std::string& type) {
    auto it = nodes_.find(type);
    if (it != nodes_.end()) return &it->second;
    Node n;
    if (type == "string") { n.kind = Kind::kString; n.go_name = "string"; }
    else if (type.rfind("string:", 0) == 0) { n.kind = Kind::kString; n.go_name = type.substr(7); }
    else if (type == "int32") { n.kind = Kind::kInt32; n.go_name = "int32"; }
    else if (type == "int64") { n.kind = Kind::kInt64; n.go_name = "int64"; }
    else if (type == "bool") { n.kind = Kind::kBool; n.go_name = "bool"; }
    else if (type == "float64") { n.kind = Kind::kFloat; n.go_name = "float64"; }
    else if (type == "intstr") { n.kind = Kind::kIntStr; n.go_name = "intstr.IntOrString"; }
    else if (type == "quantity") { n.kind = Kind::kQuantity; n.go_name = "resource.Quantity"; }
    else if (type == "time") { n.kind = Kind::kTime; n.go_name = "v1.Time"; }
    else if (type == "any") { n.kind = Kind::kAny; n.go_name = "interface {}"; }
    else if (type.rfind("[]", 0) == 0) {
      n.kind = Kind::kArray;
      n.elem = node(type.substr(2));
      n.go_name = "[]" + n.elem->go_name;
    } else if (type.rfind("map[string]", 0) == 0) {
      n.kind = Kind::kMap;
      n.elem = node(type.substr(11));
      n.go_name = "map[string]" + n.elem->go_name;
    } else {
      n.kind = Kind::kStruct;
      auto s = structs_.find(type);
      n.def = s == structs_.end() ? nullptr : &s->second;
      if (!n.def) n.kind = Kind::kAny;  // unknown name: stay lenient
      n.go_name = "v1." + type;
    }
    return &nodes_.emplace(type, std::move(n)).first->second;
  }

  std::map<std::string, StructDef> structs_;
  std::map<std::string, Node> nodes_;
  std::map<std::string, StructDef> roots_;
  std::map<std::string, Node> root_nodes_;
};

const Graph& graph() {
  static const Graph g;
  return g;
}

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Fields whose contents are free-form even if typed (see header).
bool skip_contents(const std::string& path) { return path == "status"; }

void collect_unknown(const Node* n, const json& v, const std::string& path,
                     std::vector<std::string>& out) {
  if (!n || v.is_null() || skip_contents(path)) return;
  switch (n->kind) {
    case Kind::kStruct:
      if (!v.is_object() || !n->def) return;
      for (auto it = v.begin(); it != v.end(); ++it) {
        auto f = n->def->fields.find(it.key());
        std::string p = join_path(path, it.key());
        if (f == n->def->fields.end()) {
          out.push_back(p);
        } else {
          collect_unknown(f->second, it.value(), p, out);
        }
      }
      return;
    case Kind::kArray:
      if (!v.is_array()) return;
      for (size_t i = 0; i < v.size(); ++i) {
        collect_unknown(n->elem, v[i], path + "[" + std::to_string(i) + "]", out);
      }
      return;
    case Kind::kMap:
      if (!v.is_object()) return;
      for (auto it = v.begin(); it != v.end(); ++it) {
        collect_unknown(n->elem, it.value(), join_path(path, it.key()), out);
      }
      return;
    default:
      return;
  }
}

std::string json_type_name(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_number()) return "number";
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  return "null";
}

struct TypeErr {
  std::string value, strct, field, type;
};

// Checks v against n. strct is the innermost Go struct name, stack the struct field path.
bool check_types(const Node* n, const json& v, const std::string& strct, const std::string& stack,
                 std::optional<TypeErr>& err) {
  if (!n || v.is_null()) return true;
  auto fail = [&](std::string value) {
    err = TypeErr{std::move(value), strct, stack, n->go_name};
    return false;
  };
  switch (n->kind) {
    case Kind::kAny:
      return true;
    case Kind::kString:
    case Kind::kTime:
      return v.is_string() ? true : fail(json_type_name(v));
    case Kind::kBool:
      return v.is_boolean() ? true : fail(json_type_name(v));
    case Kind::kFloat:
      return v.is_number() ? true : fail(json_type_name(v));
    case Kind::kInt32:
    case Kind::kInt64: {
      if (!v.is_number()) return fail(json_type_name(v));
      if (v.is_number_float()) return fail("number " + v.dump());
      if (n->kind == Kind::kInt32) {
        if (v.is_number_unsigned() ? v.get<uint64_t>() > 2147483647ULL
                                   : (v.get<int64_t>() > 2147483647LL || v.get<int64_t>() < -2147483648LL)) {
          return fail("number " + v.dump());
        }
      }
      return true;
    }
    case Kind::kIntStr:
      if (v.is_string() || v.is_number_integer()) return true;
      return fail(json_type_name(v));
    case Kind::kQuantity:
      return (v.is_string() || v.is_number()) ? true : fail(json_type_name(v));
    case Kind::kArray:
      if (!v.is_array()) return fail(json_type_name(v));
      for (const auto& e : v) {
        if (!check_types(n->elem, e, strct, stack, err)) return false;
      }
      return true;
    case Kind::kMap:
      if (!v.is_object()) return fail(json_type_name(v));
      for (const auto& e : v) {
        if (!check_types(n->elem, e, strct, stack, err)) return false;
      }
      return true;
    case Kind::kStruct: {
      if (!v.is_object()) return fail(json_type_name(v));
      if (!n->def) return true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        auto f = n->def->fields.find(it.key());
        if (f == n->def->fields.end()) continue;
        std::string p = join_path(stack, it.key());
        if (!check_types(f->second, it.value(), n->def->name, p, err)) return false;
      }
      return true;
    }
  }
  return true;
}

void prune(const Node* n, json& v, const std::string& path) {
  if (!n || skip_contents(path)) return;
  switch (n->kind) {
    case Kind::kStruct: {
      if (!v.is_object() || !n->def) return;
      for (auto it = v.begin(); it != v.end();) {
        auto f = n->def->fields.find(it.key());
        if (f == n->def->fields.end() || it.value().is_null()) {
          it = v.erase(it);
        } else {
          prune(f->second, it.value(), join_path(path, it.key()));
          ++it;
        }
      }
      return;
    }
    case Kind::kArray:
      if (!v.is_array()) return;
      for (auto& e : v) prune(n->elem, e, path + "[]");
      return;
    case Kind::kMap:
      if (!v.is_object()) return;
      for (auto& e : v) prune(n->elem, e, path + ".*");
      return;
    default:
      return;
  }
}

std::string prefix(const ResourceType& t) {
  return t.kind + " in version \"" + t.version + "\" cannot be handled as a " + t.kind + ": ";
}

}  // namespace

std::vector<std::string> unknown_fields(const ResourceType& type, const json& obj) {
  if (type.custom) {  // custom kinds: what their structural schema prunes
    if (!type.custom->schema) return {};
    json copy = obj;
    return type.custom->schema->prune(copy);
  }
  std::vector<std::string> out;
  collect_unknown(graph().root(type), obj, "", out);
  return out;
}

std::string strict_decoding_message(const ResourceType& type, const std::vector<std::string>& unknown) {
  std::string msg = prefix(type) + "strict decoding error: ";
  for (size_t i = 0; i < unknown.size(); ++i) {
    if (i) msg += ", ";
    msg += "unknown field \"" + unknown[i] + "\"";
  }
  return msg;
}

std::vector<std::string> strict_decoding_warnings(const std::vector<std::string>& unknown) {
  std::vector<std::string> out;
  out.reserve(unknown.size());
  for (const auto& u : unknown) out.push_back("unknown field \"" + u + "\"");
  return out;
}

std::optional<std::string> decode_type_error(const ResourceType& type, const json& obj) {
  if (!obj.is_object()) {
    return prefix(type) + "json: cannot unmarshal " + json_type_name(obj) +
           " into Go value of type v1." + type.kind;
  }
  if (type.custom) return std::nullopt;  // custom kinds: type errors are schema validation (422)
  const Node* root = graph().root(type);
  std::optional<TypeErr> err;
  if (check_types(root, obj, type.kind, "", err) || !err) return std::nullopt;
  return prefix(type) + "json: cannot unmarshal " + err->value + " into Go struct field " + err->strct +
         "." + err->field + " of type " + err->type;
}

void drop_unknown_fields(const ResourceType& type, json& obj) {
  if (type.custom) {
    if (type.custom->schema) (void)type.custom->schema->prune(obj);
    return;
  }
  prune(graph().root(type), obj, "");
}

}  // namespace k3dpp::schema
