using System.Diagnostics;
using System.Text;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// A spot check's job (GenerationRequest.Score): the worker scores another worker's answer instead of generating, and
/// answers like any job: one sealed final chunk (the base64 ScoreReport) and a signed receipt counting prompt + answer
/// as prompt tokens and no completion tokens. The same deadline, cancel and refusal rules apply.
/// </summary>
public sealed partial class JobProcessor
{
    private async Task ScoreJobAsync(
        WorkerSession session, JobEntry entry, JobEnvelope job, GenerationRequest request, byte[] requestSha256, ChunkSealer sealer, JobControlKey control,
        CancellationToken cancellationToken)
    {
        if (inference is not IScoringService scorer)
        {
            await RefuseAsync(session, entry, job, "invalid-request", deadLetter: false, control, cancellationToken).ConfigureAwait(false);
            return;
        }

        var started = time.GetUtcNow();
        using var run = StartRun(session, job, control, cancellationToken);
        ScoreResult result;
        try
        {
            result = await scorer.ScoreAsync(request, run.Stop).ConfigureAwait(false);
        }
        catch (Exception e) when (Refusal(e, run.Cancelled, cancellationToken) is { } reason)
        {
            await RefuseAfterFailureAsync(session, entry, job, e, reason, control, cancellationToken).ConfigureAwait(false);
            return;
        }
        finally
        {
            _running.TryRemove(run.Key, out _);
            _stoppedAt.TryRemove(run.Key, out _);
        }

        var text = Encoding.UTF8.GetBytes(Convert.ToBase64String(result.Report.ToBytes()));
        using var response = new ResponseHasher();
        response.Append(text);
        var last = sealer.Seal(text, isFinal: true);
        var receipt = Receipt(session, job, started, requestSha256, result.PromptTokens, 0, 0, FinishReason.Stop, sealer.TranscriptHash, response.Current());
        var final = Result(job, session, ResultKind.Final, last.Sequence, last.Ciphertext) with
        {
            Receipt = Encoding.UTF8.GetBytes(receipt.ToJson()),
        };
        await RetryAsync(job, ct => results.AppendAndAcknowledgeAsync(job.ReplyTo, final, session.WorkerId, entry.EntryId, ct), cancellationToken).ConfigureAwait(false);
        Activity.Current?.SetTag("cocoon.outcome", "scored");
        WorkerLog.JobDone(logger, job.RequestId, job.Attempt, result.PromptTokens, 0, "scored", result.Elapsed.TotalMilliseconds);
    }
}
