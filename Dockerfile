# QTLens service image. Build arg TORCH_INDEX selects the torch build:
#   CPU (default): https://download.pytorch.org/whl/cpu
#   CUDA 12.x:     https://download.pytorch.org/whl/cu126
FROM python:3.11-slim
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/qtlens
RUN pip install --index-url "$TORCH_INDEX" "torch==$TORCH_VERSION"
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
COPY models ./models
COPY frontend ./frontend
COPY migrations ./migrations
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 qtlens \
    && mkdir -p /srv/qtlens/audit && chown qtlens /srv/qtlens/audit
USER qtlens
EXPOSE 8000
CMD ["sh", "-c", "qtlens db upgrade && qtlens serve --host 0.0.0.0 --port 8000 --workers ${QTLENS_WORKERS:-2}"]
