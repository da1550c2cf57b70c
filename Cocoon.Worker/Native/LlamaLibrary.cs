using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Native;

/// <summary>
/// Loads llama.cpp once per process: the DllImport resolver, the log route, the ABI check and the ggml backends.
/// Native libraries are process-wide by nature, so this is the one static in the binding; a second call with a
/// different folder is refused rather than silently mixing two builds.
/// </summary>
public static partial class LlamaLibrary
{
    private static readonly Lock Gate = new();
    private static LlamaLibraryLocation? _loaded;
    private static LlamaLibraryLocation? _resolving;

    public static LlamaLibraryLocation? Loaded => _loaded;

    /// <summary>Loads the libraries at <paramref name="location"/> (idempotent for the same folder).</summary>
    public static void EnsureLoaded(LlamaLibraryLocation location, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(logger);
        lock (Gate)
        {
            if (_loaded is not null)
            {
                if (_loaded.LlamaPath != location.LlamaPath)
                {
                    throw new LlamaException($"llama.cpp is already loaded from {_loaded.Directory}; one process cannot also load {location.Directory}.");
                }

                return;
            }

            // The resolver can be set once per assembly; a failed earlier attempt leaves it pointing at the same folder.
            if (_resolving is null)
            {
                _resolving = location;
                NativeLibrary.SetDllImportResolver(typeof(LlamaLibrary).Assembly, (name, _, _) => name switch
                {
                    LlamaNative.Llama => NativeLibrary.Load(_resolving.LlamaPath),
                    LlamaNative.Ggml => NativeLibrary.Load(_resolving.GgmlPath),
                    _ => 0,
                });
            }
            else if (_resolving.LlamaPath != location.LlamaPath)
            {
                throw new LlamaException($"This process already tried llama.cpp from {_resolving.Directory}; restart it to use {location.Directory}.");
            }

            LlamaLog.Attach(logger);
            CheckAbi();
            LlamaNative.llama_backend_init();
            LlamaNative.ggml_backend_load_all_from_path(location.Directory);
            var devices = Devices();
            if (devices.Count == 0)
            {
                throw new LlamaException($"ggml loaded no backend from {location.Directory}; the folder is incomplete. Delete it and run ./cocoon again.");
            }

            if (location.Backend == LlamaBackend.Cuda && !devices.Any(d => d.StartsWith("CUDA", StringComparison.OrdinalIgnoreCase)))
            {
                throw new LlamaException(
                    "COCOON_LLAMA_BACKEND=cuda, but ggml found no CUDA device (devices: " + string.Join(", ", devices) +
                    "). Check the NVIDIA driver with nvidia-smi, or set COCOON_LLAMA_BACKEND=cpu.");
            }

            LogLoaded(logger, location.Directory, string.Join(", ", devices));
            _loaded = location;
        }
    }

    internal static unsafe List<string> Devices()
    {
        var list = new List<string>();
        var count = LlamaNative.ggml_backend_dev_count();
        for (nuint i = 0; i < count; i++)
        {
            list.Add(Marshal.PtrToStringUTF8(LlamaNative.ggml_backend_dev_name(LlamaNative.ggml_backend_dev_get(i))) ?? "?");
        }

        return list;
    }

    /// <summary>
    /// The default parameters are a fingerprint of the struct layouts: a build with a different ABI returns other values
    /// at these offsets. Running on such a build would corrupt memory, so refuse.
    /// </summary>
    internal static unsafe void CheckAbi()
    {
        var mismatches = new List<string>();
        var m = LlamaNative.llama_model_default_params();
        Expect(mismatches, "model.n_gpu_layers", m.NGpuLayers, -1);
        Expect(mismatches, "model.split_mode", m.SplitMode, 1);
        Expect(mismatches, "model.load_mode", m.LoadMode, -1);
        Expect(mismatches, "model.lazy_mode", m.LazyMode, 1);
        Expect(mismatches, "model.main_gpu", m.MainGpu, 0);
        Expect(mismatches, "model.tensor_split", m.TensorSplit, 0);
        Expect(mismatches, "model.progress_callback", m.ProgressCallback, 0);
        Expect(mismatches, "model.vocab_only", m.VocabOnly, 0);
        Expect(mismatches, "model.check_tensors", m.CheckTensors, 0);
        Expect(mismatches, "model.use_extra_bufts", m.UseExtraBufts, 1);
        Expect(mismatches, "model.no_host", m.NoHost, 0);
        Expect(mismatches, "model.no_alloc", m.NoAlloc, 0);
        Expect(mismatches, "model.load_mtp", m.LoadMtp, 0);

        var c = LlamaNative.llama_context_default_params();
        Expect(mismatches, "context.n_ctx", c.NCtx, 512u);
        Expect(mismatches, "context.n_batch", c.NBatch, 2048u);
        Expect(mismatches, "context.n_ubatch", c.NUbatch, 512u);
        Expect(mismatches, "context.n_seq_max", c.NSeqMax, 1u);
        Expect(mismatches, "context.n_rs_seq", c.NRsSeq, 0u);
        Expect(mismatches, "context.n_outputs_max", c.NOutputsMax, 0u);
        Expect(mismatches, "context.n_outputs_max_per_seq", c.NOutputsMaxPerSeq, 1u);
        Expect(mismatches, "context.n_threads", c.NThreads, 4);
        Expect(mismatches, "context.n_threads_batch", c.NThreadsBatch, 4);
        Expect(mismatches, "context.ctx_type", c.CtxType, 0);
        Expect(mismatches, "context.rope_scaling_type", c.RopeScalingType, -1);
        Expect(mismatches, "context.pooling_type", c.PoolingType, -1);
        Expect(mismatches, "context.attention_type", c.AttentionType, -1);
        Expect(mismatches, "context.flash_attn_type", c.FlashAttnType, -1);
        Expect(mismatches, "context.rope_freq_base", c.RopeFreqBase, 0f);
        Expect(mismatches, "context.yarn_ext_factor", c.YarnExtFactor, -1f);
        Expect(mismatches, "context.yarn_beta_slow", c.YarnBetaSlow, -1f);
        Expect(mismatches, "context.yarn_orig_ctx", c.YarnOrigCtx, 0u);
        Expect(mismatches, "context.defrag_thold", c.DefragThold, -1f);
        Expect(mismatches, "context.cb_eval", c.CbEval, 0);
        Expect(mismatches, "context.type_k", c.TypeK, 1);
        Expect(mismatches, "context.type_v", c.TypeV, 1);
        Expect(mismatches, "context.abort_callback", c.AbortCallback, 0);
        Expect(mismatches, "context.embeddings", c.Embeddings, 0);
        Expect(mismatches, "context.offload_kqv", c.OffloadKqv, 1);
        Expect(mismatches, "context.no_perf", c.NoPerf, 1);
        Expect(mismatches, "context.op_offload", c.OpOffload, 1);
        Expect(mismatches, "context.swa_full", c.SwaFull, 1);
        Expect(mismatches, "context.kv_unified", c.KvUnified, 0);
        Expect(mismatches, "context.samplers", c.Samplers, 0);
        Expect(mismatches, "context.n_samplers", c.NSamplers, 0u);
        Expect(mismatches, "context.ctx_other", c.CtxOther, 0);

        Expect(mismatches, "sampler_chain.no_perf", LlamaNative.llama_sampler_chain_default_params().NoPerf, 1);

        GgmlThreadpoolParams t;
        LlamaNative.ggml_threadpool_params_init(&t, 3);
        Expect(mismatches, "threadpool.n_threads", t.NThreads, 3);
        Expect(mismatches, "threadpool.prio", t.Prio, 0);
        Expect(mismatches, "threadpool.poll", t.Poll, 50u);
        Expect(mismatches, "threadpool.strict_cpu", t.StrictCpu, (byte)0);
        Expect(mismatches, "threadpool.paused", t.Paused, (byte)0);

        if (mismatches.Count > 0)
        {
            throw new LlamaException(
                $"The loaded llama.cpp library is not the build this binding was written for (llama.cpp from @node-llama-cpp {LlamaLibraryLocator.PackageVersion}, " +
                $"commit de3ff815): default parameters differ ({string.Join("; ", mismatches)}). Point COCOON_LLAMA_LIB_DIR at the libraries of " +
                $"@node-llama-cpp/linux-x64@{LlamaLibraryLocator.PackageVersion}, or delete the cache folder and run ./cocoon again.");
        }
    }

    private static void Expect<T>(List<string> mismatches, string name, T actual, T expected)
        where T : IEquatable<T>
    {
        if (!actual.Equals(expected))
        {
            mismatches.Add($"{name} is {actual}, expected {expected}");
        }
    }

    [LoggerMessage(EventId = LogEvents.NativeLibrary + 1, Level = LogLevel.Information, Message = "llama.cpp loaded from {Directory}; devices: {Devices}")]
    private static partial void LogLoaded(ILogger logger, string directory, string devices);
}
