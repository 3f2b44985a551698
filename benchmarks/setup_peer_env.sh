#!/usr/bin/env bash
# Build benchmarks/.venv-peer: the peer (DeepCTR-Torch) next to ctrviz, apart from the project's .venv.
#
#   bash benchmarks/setup_peer_env.sh            # then: benchmarks/.venv-peer/bin/python benchmarks/peer_throughput.py
#
# torch is installed FIRST and pinned to the project's CPU build: deepctr-torch only asks for torch>=2.4,
# and with no torch present pip would satisfy that with the newest release, a multi-GB CUDA wheel.
# Re-running the script is safe (pip skips what is already there).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
venv="$here/.venv-peer"
python="${PYTHON:-python3}"
TORCH_VERSION=2.13.0
DEEPCTR_TORCH_VERSION=0.3.0

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
find_links=()
[ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null
then
    # as the Makefile does: the CPU wheel from /opt/wheels where the machine keeps one (elsewhere point pip at
    # a CPU-only torch index yourself, e.g. with PIP_EXTRA_INDEX_URL, before running this script)
    "${pip[@]}" "${find_links[@]}" "torch==$TORCH_VERSION"
fi
# deepctr-torch 0.3.0 needs torch>=2.4, tqdm, scikit-learn: the pinned torch already satisfies it,
# and the constraint makes pip fail rather than swap torch if a later release asks for more.
echo "torch==$TORCH_VERSION" > "$venv/constraints.txt"
# deepctr_torch/utils.py also imports `requests` (its import-time version check), which 0.3.0 does not declare.
"${pip[@]}" "${find_links[@]}" -c "$venv/constraints.txt" "deepctr-torch==$DEEPCTR_TORCH_VERSION" requests
# ctrviz itself, editable, same constraint (its own deps: numpy, pandas, scikit-learn, …)
"${pip[@]}" "${find_links[@]}" -c "$venv/constraints.txt" -e "$root"
# (importlib.metadata, not `import deepctr_torch`: that import asks PyPI for the latest version in a thread)
"$venv/bin/python" -c "import importlib.metadata as m, torch, ctrviz; print('torch', torch.__version__, \
'| deepctr-torch', m.version('deepctr-torch'), '| ctrviz', ctrviz.__file__)"
