using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Cocoon.Worker.Native;

namespace Cocoon.Worker.Tests;

/// <summary>
/// Offsets of llama.h at llama.cpp de3ff815 (node-llama-cpp 3.22.1's llama/gitRelease.bundle), computed by hand from the
/// header under the x86-64 System V ABI and matching NATIVE-LLAMA.md's offsetof measurements.
/// </summary>
public sealed class LayoutTests
{
    [Fact]
    public void ModelParamsMatchTheHeader()
    {
        Assert.Equal(80, Unsafe.SizeOf<LlamaModelParams>());
        AssertOffsets<LlamaModelParams>(
            ("Devices", 0), ("TensorBuftOverrides", 8), ("NGpuLayers", 16), ("SplitMode", 20), ("LoadMode", 24),
            ("LazyMode", 28), ("MainGpu", 32), ("TensorSplit", 40), ("ProgressCallback", 48), ("ProgressCallbackUserData", 56),
            ("KvOverrides", 64), ("VocabOnly", 72), ("CheckTensors", 73), ("UseExtraBufts", 74), ("NoHost", 75),
            ("NoAlloc", 76), ("LoadMtp", 77));
    }

    [Fact]
    public void ContextParamsMatchTheHeader()
    {
        Assert.Equal(160, Unsafe.SizeOf<LlamaContextParams>());
        AssertOffsets<LlamaContextParams>(
            ("NCtx", 0), ("NBatch", 4), ("NUbatch", 8), ("NSeqMax", 12), ("NRsSeq", 16), ("NOutputsMax", 20),
            ("NOutputsMaxPerSeq", 24), ("NThreads", 28), ("NThreadsBatch", 32), ("CtxType", 36), ("RopeScalingType", 40),
            ("PoolingType", 44), ("AttentionType", 48), ("FlashAttnType", 52), ("RopeFreqBase", 56), ("RopeFreqScale", 60),
            ("YarnExtFactor", 64), ("YarnAttnFactor", 68), ("YarnBetaFast", 72), ("YarnBetaSlow", 76), ("YarnOrigCtx", 80),
            ("DefragThold", 84), ("CbEval", 88), ("CbEvalUserData", 96), ("TypeK", 104), ("TypeV", 108),
            ("AbortCallback", 112), ("AbortCallbackData", 120), ("Embeddings", 128), ("OffloadKqv", 129), ("NoPerf", 130),
            ("OpOffload", 131), ("SwaFull", 132), ("KvUnified", 133), ("Samplers", 136), ("NSamplers", 144), ("CtxOther", 152));
    }

    [Fact]
    public void BatchMatchesTheHeader()
    {
        Assert.Equal(56, Unsafe.SizeOf<LlamaBatch>());
        AssertOffsets<LlamaBatch>(("NTokens", 0), ("Token", 8), ("Embd", 16), ("Pos", 24), ("NSeqId", 32), ("SeqId", 40), ("Logits", 48));
    }

    [Fact]
    public void SmallStructsMatchTheHeader()
    {
        Assert.Equal(1, Unsafe.SizeOf<LlamaSamplerChainParams>());
        Assert.Equal(16, Unsafe.SizeOf<LlamaChatMessage>());
        AssertOffsets<LlamaChatMessage>(("Role", 0), ("Content", 8));
    }

    // ggml.h: bool cpumask[GGML_MAX_N_THREADS = 512]; int n_threads; enum prio; uint32_t poll; bool strict_cpu; bool paused.
    [Fact]
    public void ThreadpoolParamsMatchTheHeader()
    {
        Assert.Equal(528, Unsafe.SizeOf<GgmlThreadpoolParams>());
        AssertOffsets<GgmlThreadpoolParams>(("CpuMask", 0), ("NThreads", 512), ("Prio", 516), ("Poll", 520), ("StrictCpu", 524), ("Paused", 525));
    }

    private static void AssertOffsets<T>(params (string Field, int Offset)[] expected)
    {
        var fields = typeof(T).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance);
        Assert.Equal(expected.Select(e => e.Field).Order(), fields.Select(f => f.Name).Order());
        foreach (var (field, offset) in expected)
        {
            Assert.True(offset == (int)Marshal.OffsetOf<T>(field), $"{typeof(T).Name}.{field}: expected offset {offset}, got {Marshal.OffsetOf<T>(field)}");
        }
    }
}
