using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Worker.Embeddings;

/// <summary>How token states become one vector: the mean over the input's tokens, or the [CLS] token's state.</summary>
public enum EmbeddingPooling
{
    Mean,
    Cls,
}

/// <summary>
/// Settings of an embedding worker (section Embeddings; COCOON_EMBEDDINGS_* where the environment maps them).
/// Model is the provider's ONNX file (a sentence-transformers export); Vocab its WordPiece vocab.txt (default: beside
/// the model). Pooling and Normalize follow the model card. Backend is cpu (default) or cuda (the CUDA execution
/// provider of the GPU build of ONNX Runtime; defaults to Llama:Backend, i.e. COCOON_LLAMA_BACKEND).
/// </summary>
public sealed record EmbeddingOptions
{
    public const string Section = "Embeddings";

    public required string Model { get; init; }

    public required string Vocab { get; init; }

    /// <summary>The name the model is published under; default: the model's folder name.</summary>
    public required string Name { get; init; }

    public EmbeddingPooling Pooling { get; init; } = EmbeddingPooling.Mean;

    public bool Normalize { get; init; } = true;

    /// <summary>Whether the vocabulary is uncased (lower-case before WordPiece), as bert-base-uncased and MiniLM are.</summary>
    public bool LowerCase { get; init; } = true;

    /// <summary>Tokens per input the model takes, [CLS] and [SEP] included (max_position_embeddings; 512 for BERT).</summary>
    public int MaxTokens { get; init; } = 512;

    /// <summary>Inputs run through ONNX Runtime together at most (one padded batch).</summary>
    public int MaxBatch { get; init; } = 32;

    /// <summary>Inputs waiting for a batch before EmbedAsync applies back-pressure.</summary>
    public int QueueCapacity { get; init; } = 1024;

    /// <summary>Jobs the worker takes at once (their inputs share batches).</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>ONNX Runtime intra-op threads; 0 = its default (one per core).</summary>
    public int Threads { get; init; }

    public string Backend { get; init; } = "cpu";

    /// <summary>Folder for the model-hash cache (Cocoon:DataDir).</summary>
    public string? DataDir { get; init; }

    public static EmbeddingOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var s = configuration.GetSection(Section);
        var model = s["Model"] is { Length: > 0 } m
            ? Path.GetFullPath(m)
            : throw new InvalidOperationException("Embeddings:Model is not set: set it to the embedding model's ONNX file (a sentence-transformers export).");
        var folder = Path.GetDirectoryName(model) ?? ".";
        return new EmbeddingOptions
        {
            Model = model,
            Vocab = s["Vocab"] is { Length: > 0 } v ? Path.GetFullPath(v) : Path.Combine(folder, "vocab.txt"),
            Name = s["Name"] is { Length: > 0 } n ? n : Path.GetFileName(folder),
            Pooling = s["Pooling"] is { Length: > 0 } p
                ? Enum.TryParse<EmbeddingPooling>(p.Trim(), ignoreCase: true, out var pooling) && Enum.IsDefined(pooling)
                    ? pooling
                    : throw new InvalidOperationException($"Embeddings:Pooling is '{p}': use 'mean' or 'cls', as the model card states.")
                : EmbeddingPooling.Mean,
            Normalize = Bool(s, "Normalize", true),
            LowerCase = Bool(s, "LowerCase", true),
            MaxTokens = Int(s, "MaxTokens", 512),
            MaxBatch = Int(s, "MaxBatch", 32),
            QueueCapacity = Int(s, "QueueCapacity", 1024),
            MaxConcurrency = Int(s, "MaxConcurrency", 8),
            Threads = Int(s, "Threads", 0),
            Backend = (s["Backend"] is { Length: > 0 } b ? b : configuration["Llama:Backend"] is { Length: > 0 } lb ? lb : "cpu").Trim().ToLowerInvariant(),
            DataDir = configuration["Cocoon:DataDir"],
        };
    }

    /// <summary>Throws with a message naming the setting and the fix.</summary>
    public void Validate()
    {
        if (!File.Exists(Model))
        {
            throw new InvalidOperationException($"Embeddings:Model is '{Model}', which does not exist: set it to the embedding model's ONNX file.");
        }

        if (!File.Exists(Vocab))
        {
            throw new InvalidOperationException($"Embeddings:Vocab is '{Vocab}', which does not exist: set it to the model's WordPiece vocab.txt.");
        }

        if (Backend is not ("cpu" or "cuda"))
        {
            throw new InvalidOperationException($"Embeddings:Backend is '{Backend}': use 'cpu' (the default) or 'cuda' (an NVIDIA GPU with the CUDA runtime).");
        }

        Check(MaxTokens is >= 3 and <= 65536, "Embeddings:MaxTokens", MaxTokens, "the model's max_position_embeddings (3 to 65536)");
        Check(MaxBatch is >= 1 and <= 4096, "Embeddings:MaxBatch", MaxBatch, "between 1 and 4096");
        Check(QueueCapacity is >= 1 and <= 1_000_000, "Embeddings:QueueCapacity", QueueCapacity, "between 1 and 1000000");
        Check(MaxConcurrency is >= 1 and <= 256, "Embeddings:MaxConcurrency", MaxConcurrency, "between 1 and 256");
        Check(Threads is >= 0 and <= 512, "Embeddings:Threads", Threads, "0 (one per core) or a thread count up to 512");
    }

    private static void Check(bool ok, string key, int value, string fix)
    {
        if (!ok)
        {
            throw new InvalidOperationException($"{key} is {value}: set it to {fix}.");
        }
    }

    private static int Int(IConfigurationSection section, string key, int fallback) =>
        section[key] is not { Length: > 0 } text ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
        : throw new InvalidOperationException($"Embeddings:{key} is '{text}': set it to a whole number.");

    private static bool Bool(IConfigurationSection section, string key, bool fallback) =>
        section[key] is not { Length: > 0 } text ? fallback
        : bool.TryParse(text, out var v) ? v
        : throw new InvalidOperationException($"Embeddings:{key} is '{text}': set it to true or false.");
}
