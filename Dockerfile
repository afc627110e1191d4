# Community Safety Atlas: the service with its bundled boundaries, OSTN15 grid and demo data.
# Build: docker build -t atlas .   Run: docker run -p 8000:8000 atlas
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ATLAS_DATABASE_URL=sqlite:////srv/atlas/var/atlas.db
WORKDIR /srv/atlas
COPY pyproject.toml README.md ./
COPY geo ./geo
COPY app ./app
COPY boundaries ./boundaries
COPY data ./data
RUN pip install --no-cache-dir -e . && atlas init && atlas demo
EXPOSE 8000
CMD ["atlas", "serve", "--host", "0.0.0.0", "--port", "8000"]
