//! The 3D cube view's wgpu side (after egui's `custom3d_wgpu.rs`): pipelines, buffers and the
//! frame atlas live in egui-wgpu's `callback_resources`; each frame the panel hands over a
//! [`CubeViewCallback`] with the scene, `prepare` uploads it and `paint` draws it into egui's
//! render pass. The WGSL is `shaders/cube_view.wgsl`.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};
use egui_wgpu::wgpu;

pub const SHADER: &str = include_str!("../../../shaders/cube_view.wgsl");

/// Mirrors `Uniforms` in cube_view.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct CubeViewUniforms {
    pub view_proj: [[f32; 4]; 4],
    /// x: 1 when the atlas holds the frames' pixels.
    pub params: [f32; 4],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct FrameVertex {
    pub position: [f32; 3],
    pub uv: [f32; 2],
    pub tint: [f32; 4],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct LineVertex {
    pub position: [f32; 3],
    pub colour: [f32; 4],
}

/// The sampled frames' thumbnails in one RGBA texture; `key` changes when its content does.
pub struct Atlas {
    pub key: u64,
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// One frame of the view: the scene to draw.
pub struct CubeViewCallback {
    pub uniforms: CubeViewUniforms,
    /// Triangles, already sorted back to front.
    pub frames: Vec<FrameVertex>,
    pub lines: Vec<LineVertex>,
    pub atlas: Option<Arc<Atlas>>,
}

struct Resources {
    frame_pipeline: wgpu::RenderPipeline,
    line_pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    uniforms: wgpu::Buffer,
    sampler: wgpu::Sampler,
    bind_group: wgpu::BindGroup,
    atlas_key: Option<u64>,
    frame_buffer: wgpu::Buffer,
    line_buffer: wgpu::Buffer,
    frame_count: u32,
    line_count: u32,
}

/// Create the pipelines once, when the window starts.
pub fn install(rs: &egui_wgpu::RenderState) {
    let device = &rs.device;
    let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("cube_view"),
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("cube_view"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: wgpu::BufferSize::new(
                        std::mem::size_of::<CubeViewUniforms>() as u64,
                    ),
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 1,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: true },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 2,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                count: None,
            },
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("cube_view"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let blend = Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING);
    let pipeline = |entry_vs: &str,
                    entry_fs: &str,
                    attributes: &[wgpu::VertexAttribute],
                    stride: usize,
                    topology: wgpu::PrimitiveTopology| {
        device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some(entry_vs),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some(entry_vs),
                compilation_options: Default::default(),
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: stride as u64,
                    step_mode: wgpu::VertexStepMode::Vertex,
                    attributes,
                })],
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some(entry_fs),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: rs.target_format,
                    blend,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            primitive: wgpu::PrimitiveState {
                topology,
                ..Default::default()
            },
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        })
    };
    let frame_pipeline = pipeline(
        "vs_frame",
        "fs_frame",
        &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x2, 2 => Float32x4],
        std::mem::size_of::<FrameVertex>(),
        wgpu::PrimitiveTopology::TriangleList,
    );
    let line_pipeline = pipeline(
        "vs_line",
        "fs_line",
        &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x4],
        std::mem::size_of::<LineVertex>(),
        wgpu::PrimitiveTopology::LineList,
    );
    let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("cube_view uniforms"),
        size: std::mem::size_of::<CubeViewUniforms>() as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("cube_view atlas"),
        mag_filter: wgpu::FilterMode::Linear,
        min_filter: wgpu::FilterMode::Linear,
        ..Default::default()
    });
    let placeholder = Atlas {
        key: 0,
        width: 1,
        height: 1,
        rgba: vec![90, 90, 90, 255],
    };
    let bind_group = atlas_bind_group(
        device,
        &rs.queue,
        &layout,
        &uniforms,
        &sampler,
        &placeholder,
    );
    let resources = Resources {
        frame_pipeline,
        line_pipeline,
        layout,
        uniforms,
        sampler,
        bind_group,
        atlas_key: None,
        frame_buffer: vertex_buffer(device, 1024),
        line_buffer: vertex_buffer(device, 1024),
        frame_count: 0,
        line_count: 0,
    };
    rs.renderer.write().callback_resources.insert(resources);
}

fn vertex_buffer(device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("cube_view vertices"),
        size: bytes,
        usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

fn atlas_bind_group(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    layout: &wgpu::BindGroupLayout,
    uniforms: &wgpu::Buffer,
    sampler: &wgpu::Sampler,
    atlas: &Atlas,
) -> wgpu::BindGroup {
    let size = wgpu::Extent3d {
        width: atlas.width.max(1),
        height: atlas.height.max(1),
        depth_or_array_layers: 1,
    };
    // Unorm, not sRGB: egui works in gamma space, and so do the thumbnails.
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("cube_view atlas"),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture: &texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        &atlas.rgba,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(4 * size.width),
            rows_per_image: Some(size.height),
        },
        size,
    );
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("cube_view"),
        layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: uniforms.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::TextureView(&view),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: wgpu::BindingResource::Sampler(sampler),
            },
        ],
    })
}

/// Write `data` into `buffer`, growing it (powers of two) when it is too small.
fn upload<T: Pod>(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &mut wgpu::Buffer,
    data: &[T],
) {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    if bytes.len() as u64 > buffer.size() {
        *buffer = vertex_buffer(device, (bytes.len() as u64).next_power_of_two());
    }
    if !bytes.is_empty() {
        queue.write_buffer(buffer, 0, bytes);
    }
}

impl egui_wgpu::CallbackTrait for CubeViewCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(r) = resources.get_mut::<Resources>() else {
            return Vec::new();
        };
        if let Some(atlas) = &self.atlas {
            if r.atlas_key != Some(atlas.key) {
                r.bind_group =
                    atlas_bind_group(device, queue, &r.layout, &r.uniforms, &r.sampler, atlas);
                r.atlas_key = Some(atlas.key);
            }
        }
        queue.write_buffer(&r.uniforms, 0, bytemuck::bytes_of(&self.uniforms));
        upload(device, queue, &mut r.frame_buffer, &self.frames);
        upload(device, queue, &mut r.line_buffer, &self.lines);
        r.frame_count = self.frames.len() as u32;
        r.line_count = self.lines.len() as u32;
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(r) = resources.get::<Resources>() else {
            return;
        };
        pass.set_bind_group(0, &r.bind_group, &[]);
        if r.frame_count > 0 {
            pass.set_pipeline(&r.frame_pipeline);
            pass.set_vertex_buffer(0, r.frame_buffer.slice(..));
            pass.draw(0..r.frame_count, 0..1);
        }
        if r.line_count > 0 {
            pass.set_pipeline(&r.line_pipeline);
            pass.set_vertex_buffer(0, r.line_buffer.slice(..));
            pass.draw(0..r.line_count, 0..1);
        }
    }
}

/// Column-major 4×4 matrices, as WGSL's `mat4x4<f32>` expects.
pub mod mat {
    pub type M4 = [[f32; 4]; 4];

    pub fn mul(a: &M4, b: &M4) -> M4 {
        let mut out = [[0.0; 4]; 4];
        for (c, col) in out.iter_mut().enumerate() {
            for (r, v) in col.iter_mut().enumerate() {
                *v = (0..4).map(|k| a[k][r] * b[c][k]).sum();
            }
        }
        out
    }

    /// Right-handed perspective with depth in [0, 1] (wgpu's clip space).
    pub fn perspective(fov_y: f32, aspect: f32, near: f32, far: f32) -> M4 {
        let f = 1.0 / (fov_y / 2.0).tan();
        let range = far / (near - far);
        [
            [f / aspect, 0.0, 0.0, 0.0],
            [0.0, f, 0.0, 0.0],
            [0.0, 0.0, range, -1.0],
            [0.0, 0.0, range * near, 0.0],
        ]
    }

    pub fn look_at(eye: [f32; 3], target: [f32; 3], up: [f32; 3]) -> M4 {
        let sub = |a: [f32; 3], b: [f32; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
        let dot = |a: [f32; 3], b: [f32; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let cross = |a: [f32; 3], b: [f32; 3]| {
            [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ]
        };
        let norm = |a: [f32; 3]| {
            let l = dot(a, a).sqrt().max(1e-9);
            [a[0] / l, a[1] / l, a[2] / l]
        };
        let f = norm(sub(target, eye));
        let s = norm(cross(f, up));
        let u = cross(s, f);
        [
            [s[0], u[0], -f[0], 0.0],
            [s[1], u[1], -f[1], 0.0],
            [s[2], u[2], -f[2], 0.0],
            [-dot(s, eye), -dot(u, eye), dot(f, eye), 1.0],
        ]
    }

    /// Where `p` lands in normalised device coordinates.
    #[cfg(test)]
    pub fn project(m: &M4, p: [f32; 3]) -> [f32; 3] {
        let v: Vec<f32> = (0..4)
            .map(|r| m[0][r] * p[0] + m[1][r] * p[1] + m[2][r] * p[2] + m[3][r])
            .collect();
        [v[0] / v[3], v[1] / v[3], v[2] / v[3]]
    }
}

#[cfg(test)]
mod tests {
    use super::mat::*;

    #[test]
    fn the_camera_sees_the_origin_in_the_centre_and_depth_in_range() {
        let view = look_at([0.0, 0.0, 3.0], [0.0; 3], [0.0, 1.0, 0.0]);
        let proj = perspective(0.8, 1.5, 0.1, 20.0);
        let m = mul(&proj, &view);
        let c = project(&m, [0.0, 0.0, 0.0]);
        assert!(c[0].abs() < 1e-6 && c[1].abs() < 1e-6);
        assert!(c[2] > 0.0 && c[2] < 1.0);
        // Right of the origin lands right of the centre; up lands up.
        assert!(project(&m, [0.5, 0.0, 0.0])[0] > 0.0);
        assert!(project(&m, [0.0, 0.5, 0.0])[1] > 0.0);
        // Nearer points have smaller depth.
        assert!(project(&m, [0.0, 0.0, 1.0])[2] < c[2]);
    }
}
