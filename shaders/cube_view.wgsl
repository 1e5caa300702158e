// The 3D cube view: the sampled frames of a clip as textured quads stacked along time, and the
// cubes as wireframe boxes. Uniforms are mirrored by `CubeViewUniforms` in
// src/app/render/cube_view.rs (a test checks the sizes agree and validates this file with naga).

struct Uniforms {
    view_proj: mat4x4<f32>,
    // x: 1 when the atlas holds real pixels, 0 while it is a placeholder.
    params: vec4<f32>,
};

@group(0) @binding(0) var<uniform> u: Uniforms;
@group(0) @binding(1) var atlas: texture_2d<f32>;
@group(0) @binding(2) var atlas_sampler: sampler;

struct FrameIn {
    @location(0) position: vec3<f32>,
    @location(1) uv: vec2<f32>,
    // rgb multiplies the texel (dark for a discarded frame), a is the opacity.
    @location(2) tint: vec4<f32>,
};

struct FrameOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) tint: vec4<f32>,
};

@vertex
fn vs_frame(v: FrameIn) -> FrameOut {
    var out: FrameOut;
    out.clip = u.view_proj * vec4<f32>(v.position, 1.0);
    out.uv = v.uv;
    out.tint = v.tint;
    return out;
}

@fragment
fn fs_frame(in: FrameOut) -> @location(0) vec4<f32> {
    let texel = textureSample(atlas, atlas_sampler, in.uv).rgb;
    let rgb = mix(vec3<f32>(0.35), texel, u.params.x) * in.tint.rgb;
    // egui blends premultiplied colours.
    return vec4<f32>(rgb * in.tint.a, in.tint.a);
}

struct LineIn {
    @location(0) position: vec3<f32>,
    @location(1) colour: vec4<f32>,
};

struct LineOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) colour: vec4<f32>,
};

@vertex
fn vs_line(v: LineIn) -> LineOut {
    var out: LineOut;
    out.clip = u.view_proj * vec4<f32>(v.position, 1.0);
    out.colour = v.colour;
    return out;
}

@fragment
fn fs_line(in: LineOut) -> @location(0) vec4<f32> {
    return vec4<f32>(in.colour.rgb * in.colour.a, in.colour.a);
}
