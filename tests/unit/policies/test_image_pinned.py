import pytest

from .builders import release_props, violations, vllm_values

RULE = "vllm-image-pinned"


@pytest.mark.parametrize("image", [
    {"tag": "v0.11.0"},
    {"tag": "sha256:" + "a" * 64},
    {"repository": "vllm/vllm-openai@sha256:" + "b" * 64, "tag": ""},
    {"repository": "registry.local:5000/vllm", "tag": "v0.10.2"},
])
def test_pinned_images_pass(image):
    assert violations(RULE, release_props(values=vllm_values(image=image))) == []


def test_latest_is_refused_with_the_fix():
    props = release_props("production", values=vllm_values("production", image={"tag": "latest"}))
    assert violations(RULE, props) == [
        'vLLM release "llama-70b-production": image "vllm/vllm-openai:latest" uses the floating tag "latest"; set '
        'image.tag to a released version (e.g. "v0.11.0") or pin a digest (repository@sha256:...).']


def test_missing_tag_is_refused():
    props = release_props(values=vllm_values(image={"tag": None}))
    assert violations(RULE, props) == [
        'vLLM release "llama-7b-development": image "vllm/vllm-openai" has no tag (image.tag is not set), so it '
        'floats to "latest"; set image.tag to a released version (e.g. "v0.11.0") or pin a digest '
        '(repository@sha256:...).']


def test_latest_written_into_the_repository_is_refused():
    props = release_props(values=vllm_values(image={"repository": "vllm/vllm-openai:latest", "tag": ""}))
    assert 'uses the floating tag "latest"' in violations(RULE, props)[0]


def test_configured_floating_tags_are_refused():
    props = release_props(values=vllm_values(image={"tag": "edge"}))
    assert violations(RULE, props) == []
    assert 'floating tag "edge"' in violations(RULE, props, config={"floatingTags": ["edge"]})[0]


def test_unknown_tag_skips_the_check(unknown_values):
    assert violations(RULE, release_props(values=vllm_values(image={"tag": unknown_values.string}))) == []
