#!/usr/bin/env python3
"""Writes a large rendered Helm chart (what `helm template` prints) to stdout.

    bench/gen-chart.py 50 > /tmp/chart.yaml      # about 50 MB

The mix is what big rendered charts hold: Deployments and StatefulSets with
probes, env, resources and volumes; Services; ConfigMaps with block scalars;
RBAC; and CustomResourceDefinitions with deep OpenAPI schemas. Each document
sits under a `# Source:` comment. Deterministic: the same size gives the same
bytes.
"""
import sys


def deployment(i, kind="Deployment"):
    env = "".join(
        f"""            - name: SETTING_{j}
              value: "value-{i}-{j}"
"""
        for j in range(12)
    )
    return f"""apiVersion: apps/v1
kind: {kind}
metadata:
  name: svc-{i}
  namespace: team-{i % 17}
  labels:
    app.kubernetes.io/name: svc-{i}
    app.kubernetes.io/instance: release
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: big-1.2.3
  annotations:
    checksum/config: 5f2b1c0e9a7d3b4c8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90123456789ab
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: svc-{i}
      app.kubernetes.io/instance: release
  template:
    metadata:
      labels:
        app.kubernetes.io/name: svc-{i}
        app.kubernetes.io/instance: release
    spec:
      serviceAccountName: svc-{i}
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
      containers:
        - name: app
          image: "registry.example.com/team/svc-{i}:1.{i % 40}.{i % 7}"
          imagePullPolicy: IfNotPresent
          args: ["--port=8080", "--metrics-port=9090", "--log-level=info"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            - name: metrics
              containerPort: 9090
              protocol: TCP
          env:
{env}          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 10
            periodSeconds: 10
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
          resources:
            limits:
              cpu: 500m
              memory: 512Mi
            requests:
              cpu: 100m
              memory: 128Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: config
              mountPath: /etc/svc
              readOnly: true
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: config
          configMap:
            name: svc-{i}-config
        - name: tmp
          emptyDir: {{}}
"""


def service(i):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: team-{i % 17}
  labels:
    app.kubernetes.io/name: svc-{i}
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: svc-{i}
    app.kubernetes.io/instance: release
  ports:
    - name: http
      port: 80
      targetPort: http
    - name: metrics
      port: 9090
      targetPort: metrics
"""


def configmap(i):
    body = "".join(
        f"    key_{j}: 'a fairly ordinary configuration line number {j} of map {i}'\n"
        for j in range(30)
    )
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: svc-{i}-config
  namespace: team-{i % 17}
data:
  config.yaml: |
{body}  LOG_FORMAT: json
  FEATURE_FLAGS: "a,b,c"
"""


def rbac(i):
    return f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: svc-{i}
  namespace: team-{i % 17}
rules:
  - apiGroups: [""]
    resources: ["configmaps", "secrets", "pods"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["apps"]
    resources: ["deployments"]
    verbs: ["get"]
"""


def schema(depth, width, indent):
    pad = " " * indent
    if depth == 0:
        return f"{pad}type: string\n{pad}description: A leaf value of the resource, documented at length as generated schemas are.\n"
    out = f"{pad}type: object\n{pad}description: Nested settings at level {depth}.\n{pad}properties:\n"
    for k in range(width):
        out += f"{pad}  field{depth}x{k}:\n" + schema(depth - 1, width, indent + 4)
    return out


def crd(i):
    return f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets{i}.example.com
spec:
  group: example.com
  names:
    kind: Widget{i}
    plural: widgets{i}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
{schema(4, 4, 10)}"""


def main():
    target = float(sys.argv[1] if len(sys.argv) > 1 else "50") * 1e6
    out = sys.stdout
    written = 0
    i = 0
    docs = [
        ("deployment.yaml", deployment),
        ("statefulset.yaml", lambda i: deployment(i, "StatefulSet")),
        ("service.yaml", service),
        ("configmap.yaml", configmap),
        ("role.yaml", rbac),
    ]
    while written < target:
        parts = [(n, f(i)) for n, f in docs]
        if i % 50 == 0:
            parts.append(("crds/widget.yaml", crd(i)))
        for name, text in parts:
            s = f"---\n# Source: big/templates/{name}\n{text}"
            out.write(s)
            written += len(s)
        i += 1


main()
