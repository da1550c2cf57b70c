using Cocoon.Worker.Native;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Worker.Inference;

/// <summary>
/// Settings of the llama.cpp inference service. Keys: Worker:Model (COCOON_MODEL), Llama:Backend (COCOON_LLAMA_BACKEND),
/// Llama:LibraryDir (COCOON_LLAMA_LIB_DIR), Llama:Threads, Llama:ContextSize, Llama:MaxConcurrency, Llama:BatchSize,
/// Llama:ThreadPoll, Llama:ChunkIntervalMs, Llama:KvUnified, Llama:BatchInvariantSampling, Llama:WarmUp, Llama:QueueCapacity, Llama:PrefixCacheTokens,
/// Cocoon:DataDir (COCOON_DATA).
/// </summary>
public sealed record LlamaInferenceOptions
{
    /// <summary>GGUF path; empty = the default search (see <see cref="ModelLocator"/>).</summary>
    public string? Model { get; init; }

    public string Backend { get; init; } = "cpu";

    /// <summary>Folder of the llama.cpp libraries; empty = the per-user cache ./cocoon fills.</summary>
    public string? LibraryDir { get; init; }

    /// <summary>CPU threads for decoding; 0 = one per core.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// How long the decode threads spin for the next step before they sleep: ggml's polling level, 0 (sleep at once)
    /// to 100 (spin longest); llama.cpp's default is 50. The threads live in one persistent pool per context.
    /// </summary>
    public int ThreadPoll { get; init; } = 50;

    /// <summary>
    /// Streaming granularity in milliseconds. The first text of a request goes out at once; after that, text decoded
    /// within this interval of the last chunk joins the next one. Each chunk wakes its consumer and, on the worker,
    /// becomes one sealed Redis entry: on the small model a 128-token answer is 4-6 chunks instead of 128
    /// (`./cocoon bench llama`, chunks/stream). 10 ms is below what a reader notices. 0 sends every token as it comes.
    /// </summary>
    public int ChunkIntervalMs { get; init; } = 10;

    /// <summary>Tokens of context per sequence (prompt + completion).</summary>
    public int ContextSize { get; init; } = 2048;

    /// <summary>Sequences decoded together (continuous batching slots).</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>Most tokens submitted to one llama_decode.</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>
    /// One KV cache shared by all sequences (true) or one stream per sequence (false, the default). Each sequence is
    /// held to ContextSize tokens either way. In the unified cache a sequence's cells land wherever the other
    /// sequences left room, so the attention sums round differently with different neighbours and an output can
    /// change with the batch it ran in (seen: 1 in ~8 full test runs). Per-sequence streams keep every sequence's
    /// layout the same alone or batched, which is the determinism promise; unified is faster on some models.
    /// </summary>
    public bool KvUnified { get; init; }

    /// <summary>
    /// Pads a decode step of a single row with a second row (DecodeLoop.BatchInvariance.cs), so a seeded sampled answer
    /// alone takes the same matrix path as in a batch (measured: 2 of 24 seeded answers differed without it on the
    /// small model). Off by default: on the small model it halves single-stream speed (`generate`, 2 threads, quiet
    /// machine: about 3,900 tok/s with it, 6,900 without, llama-bench 7,228), and greedy answers never needed it.
    /// </summary>
    public bool BatchInvariantSampling { get; init; }

    /// <summary>
    /// Prefix cache budget: most tokens that idle sequences keep in the KV cache after their job ended, for the next
    /// job of the same cache scope (a conversation's next turn starts from its history instead of decoding it again).
    /// Null = ContextSize x MaxConcurrency, i.e. limited only by the sequence slots (the KV memory of every slot is
    /// allocated when the context is created, so the cache needs no memory beyond it; the budget bounds how much of
    /// past conversations stays in memory). 0 turns the cache off. Least recently used sequences are dropped first.
    /// </summary>
    public int? PrefixCacheTokens { get; init; }

    internal int ResolvedPrefixCacheTokens => PrefixCacheTokens ?? checked(ContextSize * MaxConcurrency);

    /// <summary>
    /// Runs one short greedy answer through the whole decode path when the model loads, then clears the KV cache, as
    /// llama.cpp's own tools do before their first prompt (`--warmup`, on by default there too). Without it the first
    /// answer of a process pays for the first calls: the JIT of the sampling, detokenizing and streaming code and
    /// llama.cpp's first graphs and buffers (measured: 3-5 ms inside the first answer's generation on a quiet machine).
    /// A warm-up changes no answer: the cache is cleared and the counters start at zero afterwards.
    /// </summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>Requests waiting for a slot before GenerateAsync applies back-pressure.</summary>
    public int QueueCapacity { get; init; } = 64;

    /// <summary>Folder for local state (the model hash cache); empty = ./.cocoon.</summary>
    public string? DataDir { get; init; }

    public static LlamaInferenceOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var llama = configuration.GetSection("Llama");
        return new LlamaInferenceOptions
        {
            Model = configuration["Worker:Model"],
            Backend = llama["Backend"] is { Length: > 0 } b ? b : "cpu",
            LibraryDir = llama["LibraryDir"],
            Threads = Int(llama, "Threads", 0),
            ThreadPoll = Int(llama, "ThreadPoll", 50),
            ChunkIntervalMs = Int(llama, "ChunkIntervalMs", 10),
            ContextSize = Int(llama, "ContextSize", 2048),
            MaxConcurrency = Int(llama, "MaxConcurrency", 8),
            BatchSize = Int(llama, "BatchSize", 512),
            QueueCapacity = Int(llama, "QueueCapacity", 64),
            PrefixCacheTokens = string.IsNullOrWhiteSpace(llama["PrefixCacheTokens"]) ? null : Int(llama, "PrefixCacheTokens", 0),
            KvUnified = bool.TryParse(llama["KvUnified"], out var unified) && unified,
            BatchInvariantSampling = bool.TryParse(llama["BatchInvariantSampling"], out var invariant) && invariant,
            WarmUp = !bool.TryParse(llama["WarmUp"], out var warmUp) || warmUp,
            DataDir = configuration["Cocoon:DataDir"],
        };
    }

    /// <summary>Throws with a message naming the setting and the fix.</summary>
    public void Validate()
    {
        LlamaLibraryLocator.ParseBackend(Backend);
        Check(Threads is >= 0 and <= 512, "Llama:Threads", Threads, "0 (one per core) or a thread count up to 512");
        Check(ThreadPoll is >= 0 and <= 100, "Llama:ThreadPoll", ThreadPoll, "a polling level from 0 (sleep between steps) to 100 (spin longest)");
        Check(ChunkIntervalMs is >= 0 and <= 1000, "Llama:ChunkIntervalMs", ChunkIntervalMs, "0 (every token at once) to 1000 milliseconds");
        Check(ContextSize is >= 16 and <= 1 << 20, "Llama:ContextSize", ContextSize, "a token count between 16 and 1048576");
        Check(MaxConcurrency is >= 1 and <= 256, "Llama:MaxConcurrency", MaxConcurrency, "between 1 and 256 (llama.cpp's sequence limit)");
        Check(BatchSize is >= 32 and <= 65536, "Llama:BatchSize", BatchSize, "between 32 and 65536");
        var cells = (long)ContextSize * MaxConcurrency;
        if (PrefixCacheTokens is { } cache && (cache < 0 || cache > cells))
        {
            throw new InvalidOperationException(
                $"Llama:PrefixCacheTokens is {cache}: set it to 0 (no prefix cache) up to {cells} (Llama:ContextSize x Llama:MaxConcurrency), or leave it empty for all of it.");
        }

        Check(QueueCapacity is >= 1 and <= 100_000, "Llama:QueueCapacity", QueueCapacity, "between 1 and 100000");
    }

    private static void Check(bool ok, string key, int value, string fix)
    {
        if (!ok)
        {
            throw new InvalidOperationException($"{key} is {value}: set it to {fix}.");
        }
    }

    private static int Int(IConfiguration section, string key, int fallback)
    {
        var text = section[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new InvalidOperationException($"Llama:{key} is '{text}': set it to a whole number.");
    }
}
