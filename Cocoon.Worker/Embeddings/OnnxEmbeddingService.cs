using System.Buffers.Binary;
using System.Threading.Channels;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Cocoon.Worker.Embeddings;

/// <summary>
/// An embedding model on ONNX Runtime. The session is created once, when the host starts (a bad model or backend stops
/// start-up, before the worker attests). Every request's inputs are tokenized on the caller's thread and queued (a
/// bounded channel: past QueueCapacity callers wait); one runner takes up to MaxBatch queued inputs at a time, from
/// whichever requests they came, pads them into one batch, runs it, pools and normalizes each row. An input whose
/// request was cancelled before its batch ran is skipped. It is also the worker's <see cref="IInferenceService"/>:
/// identity and concurrency for attestation; it refuses text generation.
/// </summary>
public sealed partial class OnnxEmbeddingService(EmbeddingOptions options, ILogger<OnnxEmbeddingService> logger)
    : IEmbeddingService, IInferenceService, IHostedService, IDisposable
{
    private readonly Channel<Item> _queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(options.QueueCapacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>The outputs looked for, in order: a pooled vector first, then token states; else the first output.</summary>
    private static readonly string[] OutputNames = ["sentence_embedding", "last_hidden_state", "token_embeddings"];

    private InferenceSession? _session;
    private EmbeddingTokenizer? _tokenizer;
    private string _output = string.Empty;
    private bool _tokenTypes;
    private ModelInfo? _model;
    private Task? _runner;

    public ModelInfo Model => _model ?? throw new InvalidOperationException(
        "The embedding model is not loaded yet: it loads when the host starts. Register AddOnnxEmbeddings before AddWorkerHost.");

    public int MaxConcurrency => options.MaxConcurrency;

    public int Dimensions => Model.EmbeddingDimensions;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var sha = await EmbeddingModelIdentity.Sha256Async(options, options.DataDir is { Length: > 0 } d ? d : Path.Combine(Environment.CurrentDirectory, ".cocoon"), cancellationToken).ConfigureAwait(false);
        _tokenizer = new EmbeddingTokenizer(options);
        _session = OnnxSessionFactory.Create(options);
        foreach (var required in new[] { "input_ids", "attention_mask" })
        {
            if (!_session.InputMetadata.ContainsKey(required))
            {
                throw new InvalidOperationException($"Embeddings:Model {options.Model} has no '{required}' input (inputs: {string.Join(", ", _session.InputMetadata.Keys)}): export it as a BERT-style model.");
            }
        }

        _tokenTypes = _session.InputMetadata.ContainsKey("token_type_ids");
        _output = OutputNames.FirstOrDefault(_session.OutputMetadata.ContainsKey) ?? _session.OutputNames[0];
        var probe = Run([[_tokenizer.ClassificationTokenId, _tokenizer.SeparatorTokenId]]);
        _model = new ModelInfo(options.Name, sha, "onnx-bert", ParameterCount: 0 /* ONNX Runtime does not report one */, options.MaxTokens, options.MaxTokens, HasChatTemplate: false, ModelKinds.Embedding, probe[0].Length);
        _runner = Task.Factory.StartNew(RunLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        LogLoaded(logger, options.Name, sha, options.Backend, _model.EmbeddingDimensions, options.Pooling.ToString().ToLowerInvariant(), options.Normalize,
            System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        if (_runner is not null)
        {
            await _runner.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken) =>
        throw new ArgumentException("This worker serves an embedding model; it does not generate text.", nameof(request));

    public async Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var tokenizer = _tokenizer ?? throw new InvalidOperationException("The embedding model is not loaded yet.");
        if (EmbeddingRules.Check(request) is { } violation)
        {
            throw new ArgumentException(violation.Message, violation.Param);
        }

        // Everything is tokenized and checked before anything is queued: a refusal costs no model time.
        var items = new Item[request.Inputs.Count];
        var truncated = new List<int>();
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = new Item(tokenizer.Encode(request.Inputs[i], i, request.Truncate, out var cut), cancellationToken);
            if (cut)
            {
                truncated.Add(i);
            }
        }

        foreach (var item in items)
        {
            await _queue.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }

        var dims = Dimensions;
        var vectors = new byte[items.Length * dims * sizeof(float)];
        for (var i = 0; i < items.Length; i++)
        {
            var v = await items[i].Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            for (var j = 0; j < dims; j++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(vectors.AsSpan(((i * dims) + j) * sizeof(float)), v[j]);
            }
        }

        return new EmbeddingResult { Dimensions = dims, TokenCounts = [.. items.Select(x => x.Ids.Length)], Truncated = truncated, Vectors = vectors };
    }

    /// <summary>Runs token id rows (each with its specials) as one padded batch; returns one pooled, normalized vector per row.</summary>
    public float[][] Run(IReadOnlyList<int[]> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var session = _session ?? throw new InvalidOperationException("The embedding model is not loaded yet.");
        var batch = rows.Count;
        var length = rows.Max(r => r.Length);
        var ids = new DenseTensor<long>([batch, length]);
        var mask = new DenseTensor<long>([batch, length]);
        for (var b = 0; b < batch; b++)
        {
            for (var t = 0; t < rows[b].Length; t++)
            {
                ids[b, t] = rows[b][t];
                mask[b, t] = 1;
            }
        }

        var inputs = new List<NamedOnnxValue>(3)
        {
            NamedOnnxValue.CreateFromTensor("input_ids", ids),
            NamedOnnxValue.CreateFromTensor("attention_mask", mask),
        };
        if (_tokenTypes)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>([batch, length])));
        }

        using var results = session.Run(inputs, [_output]);
        var output = results[0].AsTensor<float>();
        var dims = output.Dimensions[^1];
        var vectors = new float[batch][];
        for (var b = 0; b < batch; b++)
        {
            var v = new float[dims];
            if (output.Rank == 2)
            {
                for (var j = 0; j < dims; j++)
                {
                    v[j] = output[b, j];
                }
            }
            else if (options.Pooling == EmbeddingPooling.Cls)
            {
                for (var j = 0; j < dims; j++)
                {
                    v[j] = output[b, 0, j];
                }
            }
            else
            {
                // Mean over this row's real tokens only (the attention mask), as sentence-transformers pools.
                var n = rows[b].Length;
                for (var t = 0; t < n; t++)
                {
                    for (var j = 0; j < dims; j++)
                    {
                        v[j] += output[b, t, j];
                    }
                }

                for (var j = 0; j < dims; j++)
                {
                    v[j] /= n;
                }
            }

            if (options.Normalize)
            {
                var norm = MathF.Sqrt(v.Sum(x => x * x));
                var scale = 1f / MathF.Max(norm, 1e-12f);
                for (var j = 0; j < dims; j++)
                {
                    v[j] *= scale;
                }
            }

            vectors[b] = v;
        }

        return vectors;
    }

    private async Task RunLoop()
    {
        var batch = new List<Item>(options.MaxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < options.MaxBatch && reader.TryRead(out var item))
            {
                if (item.Cancellation.IsCancellationRequested)
                {
                    item.Done.TrySetCanceled(item.Cancellation);
                    continue;
                }

                batch.Add(item);
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                var vectors = Run([.. batch.Select(b => b.Ids)]);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(vectors[i]);
                }
            }
            catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException or ArgumentException)
            {
                LogBatchFailed(logger, batch.Count, e);
                foreach (var item in batch)
                {
                    item.Done.TrySetException(e);
                }
            }
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _session?.Dispose();
    }

    private sealed record Item(int[] Ids, CancellationToken Cancellation)
    {
        public TaskCompletionSource<float[]> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(EventId = 2701, Level = LogLevel.Information, Message = "Embedding model {Name} ({Sha256}) loaded on ONNX Runtime ({Backend}): {Dimensions} dimensions, {Pooling} pooling, normalize {Normalize}, in {Milliseconds:F0} ms")]
    private static partial void LogLoaded(ILogger logger, string name, string sha256, string backend, int dimensions, string pooling, bool normalize, double milliseconds);

    [LoggerMessage(EventId = 2702, Level = LogLevel.Error, Message = "An embedding batch of {Count} inputs failed")]
    private static partial void LogBatchFailed(ILogger logger, int count, Exception exception);
}
