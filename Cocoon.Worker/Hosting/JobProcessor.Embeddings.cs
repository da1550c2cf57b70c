using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Embeddings;
using StackExchange.Redis;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// The embedding path of a job: the opened plaintext is an <see cref="EmbeddingRequest"/>; the answer is one sealed
/// final chunk (the <see cref="EmbeddingResult"/> JSON) and a receipt that bills the input tokens (no completion
/// tokens). Refusals, cancellation and deadlines work as for generation.
/// </summary>
public sealed partial class JobProcessor
{
    /// <summary>Well inside the gateway's default stall timeout (60 s).</summary>
    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(10);

    private async Task EmbedAsync(
        WorkerSession session, Network.Transport.JobEntry entry, JobEnvelope job, HpkeRecipientContext context, byte[] plaintext, byte[] requestSha256,
        IEmbeddingService embedder, JobControlKey control, CancellationToken cancellationToken)
    {
        EmbeddingRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(plaintext, WireJsonContext.Default.EmbeddingRequest);
        }
        catch (JsonException)
        {
            request = null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }

        if (request?.Inputs is null)
        {
            await RefuseAsync(session, entry, job, "invalid-request", deadLetter: true, control, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (EmbeddingRules.Check(request) is not null)
        {
            await RefuseAsync(session, entry, job, "invalid-request", deadLetter: false, control, cancellationToken).ConfigureAwait(false);
            return;
        }

        using var sealer = ChunkSealer.Create(context, job.RequestId);
        var started = time.GetUtcNow();
        var stopwatch = Stopwatch.StartNew();
        using var run = StartRun(session, job, control, cancellationToken);
        var (key, cancelled, stop) = (run.Key, run.Cancelled, run.Stop);

        EmbeddingResult result;
        try
        {
            var embedding = embedder.EmbedAsync(request, stop);
            while (!embedding.IsCompleted && !stop.IsCancellationRequested)
            {
                // A big request answers only at the end: an empty sealed chunk now and then tells the gateway the job
                // is alive, so its stall timeout does not give up on a worker that is busy embedding.
                await Task.WhenAny(embedding, Task.Delay(KeepAliveInterval, time, stop)).ConfigureAwait(false);
                if (!embedding.IsCompleted && !stop.IsCancellationRequested)
                {
                    var alive = sealer.Seal([], isFinal: false);
                    await AppendAsync(job, Result(job, session, ResultKind.Chunk, alive.Sequence, alive.Ciphertext), cancellationToken).ConfigureAwait(false);
                }
            }

            result = await embedding.ConfigureAwait(false);
        }
        catch (Exception e) when (Refusal(e, cancelled, cancellationToken) is { } reason)
        {
            await RefuseAfterFailureAsync(session, entry, job, e, reason, control, cancellationToken).ConfigureAwait(false);
            return;
        }
        finally
        {
            _running.TryRemove(key, out _);
        }

        var answer = JsonSerializer.SerializeToUtf8Bytes(result, WireJsonContext.Default.EmbeddingResult);
        // JSON (the vectors as base64 inside) is UTF-8 text, as the gateway's attempt reader expects of every chunk.
        SealedChunk last;
        byte[] responseSha256;
        try
        {
            // The receipt hashes an embedding answer as it does a chat answer: the text the worker sent (here the
            // canonical EmbeddingResult JSON), as the gateway opens it.
            responseSha256 = SHA256.HashData(answer);
            last = sealer.Seal(answer, isFinal: true);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(answer);
        }

        var tokens = result.TokenCounts.Sum();
        var receipt = Receipt(session, job, started, requestSha256, tokens, 0, 0, FinishReason.Stop, sealer.TranscriptHash, responseSha256);
        var final = Result(job, session, ResultKind.Final, last.Sequence, last.Ciphertext) with { Receipt = Encoding.UTF8.GetBytes(receipt.ToJson()) };
        await RetryAsync(job, ct => results.AppendAndAcknowledgeAsync(job.ReplyTo, final, session.WorkerId, entry.EntryId, ct), cancellationToken).ConfigureAwait(false);

        var elapsed = stopwatch.Elapsed.TotalMilliseconds;
        var done = Interlocked.Increment(ref _jobsDone);
        Volatile.Write(ref _averageMs, done == 1 ? elapsed : (0.8 * Volatile.Read(ref _averageMs)) + (0.2 * elapsed));
        WorkerLog.JobDone(logger, job.RequestId, job.Attempt, tokens, 0, FinishReason.Stop.ToString(), elapsed);
    }
}
