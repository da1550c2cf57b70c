using Cocoon.Bot.Reputation;
using Cocoon.Bot.Slashing;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Observability;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Dispatch;

/// <summary>A worker whose slot this request holds until <see cref="WorkerChoice.ReleaseAsync"/>.</summary>
public sealed record ClaimedWorker(EligibleWorker Worker, string LeaseId);

/// <summary>
/// How a worker is chosen: the model is resolved once, the engine's <see cref="Matcher"/> ranks the directory's
/// snapshots (the only policy), and the lease step claims a slot in that order (the lease script enforces the cap).
/// </summary>
public sealed class WorkerChoice(
    WorkerDirectory directory, WorkerLeases leases, AdmissionQueue queue, CacheScopes scopes, ReputationBook reputation, GatewayMetrics metrics,
    IOptions<DispatchOptions> options, TimeProvider time, StakeCache? stakes = null)
{
    private static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The SHA-256 of the model a request names (a configured name, a served name or a hash); with no name, the first
    /// served model that has a worker online, in the order /v1/models lists them.
    /// </summary>
    public string ResolveModel(string? model)
    {
        if (string.IsNullOrEmpty(model))
        {
            // With no name the request is a chat (the bot's): an embedding model is never the default.
            return Served().FirstOrDefault(m => m.Workers.Count > 0 && m.Kind == ModelKinds.Chat)?.Sha256 ?? throw new ModelUnavailableException(null);
        }

        var configured = options.Value.Models.FirstOrDefault(m => string.Equals(m.Name, model, StringComparison.OrdinalIgnoreCase)
            || string.Equals(m.Sha256, model, StringComparison.OrdinalIgnoreCase));
        if (configured is not null)
        {
            return configured.Sha256.ToLowerInvariant();
        }

        var served = directory.Eligible.FirstOrDefault(w => string.Equals(w.Document.ModelName, model, StringComparison.OrdinalIgnoreCase)
            || string.Equals(w.Document.ModelSha256, model, StringComparison.OrdinalIgnoreCase));
        return served?.Document.ModelSha256 ?? throw new ModelUnavailableException(model);
    }

    /// <summary>
    /// Refuses (400, param model) a chat request to an embedding model and an embedding request to a chat model, as the
    /// model's online workers attest its kind; a model with no worker online is left to the claim (503).
    /// </summary>
    public void CheckKind(string modelSha, DispatchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (directory.Eligible.FirstOrDefault(w => string.Equals(w.Document.ModelSha256, modelSha, StringComparison.OrdinalIgnoreCase)) is not { } worker)
        {
            return;
        }

        var kind = ModelKinds.Of(worker.Document.ModelKind);
        var wanted = request.Embedding is null ? ModelKinds.Chat : ModelKinds.Embedding;
        if (kind != wanted)
        {
            throw new GenerationRejectedException(KindMismatch(worker.Document.ModelName, kind));
        }
    }

    /// <summary>The 400 for a model of the other kind: what it is and which endpoint serves it.</summary>
    public static GenerationViolation KindMismatch(string model, string kind) => new(
        "model",
        kind == ModelKinds.Embedding
            ? $"'{model}' is an embedding model: use POST /v1/embeddings, or name a chat model here."
            : $"'{model}' is a chat model and cannot make embeddings: use POST /v1/chat/completions with it, or name an embedding model (see GET /v1/models).",
        "model_not_supported");

    /// <summary>Configured models and the models online workers serve, with those workers.</summary>
    public IReadOnlyList<ServedModel> Served()
    {
        var configured = options.Value.Models.ToDictionary(m => m.Sha256.ToLowerInvariant(), m => m.Name, StringComparer.OrdinalIgnoreCase);
        var byModel = directory.Eligible.GroupBy(w => w.Document.ModelSha256, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.OrdinalIgnoreCase);
        var models = new List<ServedModel>();
        foreach (var sha in configured.Keys.Union(byModel.Keys, StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal))
        {
            var workers = byModel.TryGetValue(sha, out var list) ? list : [];
            var name = configured.TryGetValue(sha, out var n) ? n : workers[0].Document.ModelName;
            models.Add(new ServedModel(name, sha, [.. workers.Select(w =>
                new ServedWorker(w.Document.WorkerId, w.ProviderId, w.PriceCoefficient, w.Running, w.MaxConcurrency, w.Document.TeeKind))],
                ModelKinds.Of(workers.FirstOrDefault()?.Document.ModelKind), workers.FirstOrDefault()?.Document.EmbeddingDimensions ?? 0,
                workers.Count > 0 ? workers.Min(w => w.Document.ContextLength) : 0));
        }

        return models;
    }

    /// <summary>
    /// The dearest coefficient this request may be billed at on any worker of its model (a re-dispatch may pick
    /// another): what the hold is computed at.
    /// </summary>
    public int PriceCeiling(string modelSha, DispatchRequest request, EligibleWorker first)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(first);
        return Math.Min(request.MaxCoefficient, directory.Eligible.Where(w => w.Document.ModelSha256 == modelSha).Select(w => w.PriceCoefficient).DefaultIfEmpty(first.PriceCoefficient).Max());
    }

    /// <summary>
    /// Claims a slot on the best worker that has one, in the matcher's order. The first attempt says at once when
    /// there is none (no worker, too small a context, or every one busy); a re-dispatch waits for a slot or a
    /// replacement until the deadline.
    /// <para>
    /// <paramref name="whileLeasing"/> runs for each candidate right after its lease script is sent, so the caller's
    /// work (starting the ledger hold) overlaps the round trip. If it throws, a lease it overlapped is released.
    /// </para>
    /// </summary>
    public async Task<ClaimedWorker> ClaimAsync(
        DispatchRequest request, string modelSha, int attempt, IReadOnlyCollection<string> failed, DateTimeOffset deadline, CancellationToken cancellationToken,
        Action<EligibleWorker>? whileLeasing = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        var leaseId = $"{request.RequestId}/{attempt}";
        var maxTokens = request.MaxCompletionTokens;
        AdmissionQueue.Ticket? ticket = null;
        try
        {
            // Requests already wait for this model: a newcomer joins them instead of overtaking.
            if (attempt == 0 && queue.HasWaiters(modelSha))
            {
                ticket = await WaitInQueueAsync(request, modelSha, null, Matcher.DefaultRetryAfter, deadline, cancellationToken).ConfigureAwait(false);
            }

            return await ClaimLoopAsync(request, modelSha, attempt, failed, deadline, leaseId, maxTokens, ticket, whileLeasing, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ticket?.Dispose();
        }
    }

    private async Task<ClaimedWorker> ClaimLoopAsync(
        DispatchRequest request, string modelSha, int attempt, IReadOnlyCollection<string> failed, DateTimeOffset deadline, string leaseId, int maxTokens,
        AdmissionQueue.Ticket? ticket, Action<EligibleWorker>? whileLeasing, CancellationToken cancellationToken)
    {
        // The gateway cannot count tokens: a prompt has at least one, so only what surely cannot fit is refused here;
        // the worker's exact count decides the rest (ContextExceededException).
        const int promptLowerBound = 1;
        var affinity = scopes.LastWorker(request.Generation.CacheScope);
        try
        {
            while (true)
            {
                // Stakes read from the chain at most once per Gateway:Stake:CacheTtl, only for tiers that need one.
                var requiredStake = stakes?.Requirement(request.SlaClass);
                if (requiredStake is not null)
                {
                    await stakes!.RefreshAsync(directory.Eligible.Where(w => requiredStake.ContainsKey(w.Tier) && string.Equals(w.Document.ModelSha256, modelSha, StringComparison.OrdinalIgnoreCase)).Select(w => w.ProviderId), cancellationToken).ConfigureAwait(false);
                }

                var match = Matcher.Rank(
                    new JobSpec
                    {
                        Model = modelSha,
                        MaxCoefficient = request.MaxCoefficient,
                        PreferredRegion = request.Region,
                        FailedWorkers = failed,
                        RequiredContext = maxTokens + promptLowerBound,
                        AcceptedTiers = AcceptedTiers(request),
                        CacheAffinity = affinity,
                        ReputationFloor = request.ReputationFloor ?? options.Value.ReputationFloor,
                        ExcludedWorkers = [.. directory.Eligible.Select(w => w.Document.WorkerId).Where(id => !reputation.Matchable(id, request.ReputationFloor < options.Value.ReputationFloor))],
                        SlaClass = request.SlaClass,
                        MinimumStakeByTier = requiredStake,
                    },
                    [.. directory.Eligible.Select(Snapshot)]);
                StageMarks.Mark(StageMarks.Current(CocoonTracing.Gateway), "matched");
                foreach (var candidate in match.ClaimOrder)
                {
                    if (directory.Find(candidate.WorkerId) is not { } worker)
                    {
                        continue;
                    }

                    try
                    {
                        var acquiring = leases.TryAcquireAsync(worker.Document.WorkerId, leaseId, worker.MaxConcurrency, deadline - time.GetUtcNow() + TimeSpan.FromSeconds(30), cancellationToken);
                        if (whileLeasing is not null)
                        {
                            try
                            {
                                whileLeasing(worker);
                            }
                            catch
                            {
                                await AbandonAsync(acquiring, new ClaimedWorker(worker, leaseId)).ConfigureAwait(false);
                                throw;
                            }
                        }

                        if (await acquiring.ConfigureAwait(false))
                        {
                            StageMarks.Mark(StageMarks.Current(CocoonTracing.Gateway), "leased");
                            if (ticket is not null)
                            {
                                metrics.Admission("served", ticket.Waited);
                            }

                            if (affinity is not null)
                            {
                                metrics.Affinity(string.Equals(affinity, worker.Document.WorkerId, StringComparison.Ordinal));
                            }

                            return new ClaimedWorker(worker, leaseId);
                        }
                    }
                    catch (Exception e) when (e is RedisException or TimeoutException)
                    {
                        break;
                    }
                }

                if (attempt == 0)
                {
                    if (match.Outcome == MatchOutcome.NoWorker && match.LargestTooSmallContext > 0
                        && GenerationRules.CheckFit(promptLowerBound, maxTokens, match.LargestTooSmallContext, promptIsLowerBound: true) is { } tooLong)
                    {
                        throw new GenerationRejectedException(tooLong);
                    }

                    if (match.Outcome == MatchOutcome.NoWorker)
                    {
                        throw new ModelUnavailableException(request.Model);
                    }

                    // Every worker is at its cap: wait for a turn in the admission queue (429 when it is full or the
                    // turn would come too late), then try again.
                    ticket = await WaitInQueueAsync(request, modelSha, ticket, match.RetryAfter ?? Matcher.DefaultRetryAfter, deadline, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (time.GetUtcNow() >= deadline)
                {
                    throw new TimeoutException($"No worker could take request {request.RequestId} before its deadline.");
                }

                await Task.Delay(Wait, time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ticket?.Dispose();
        }
    }

    /// <summary>
    /// Joins the model's admission queue (or keeps the ticket it holds) and waits for a turn; throws
    /// <see cref="WorkersBusyException"/> with a Retry-After from the measured service rate when the queue is full or
    /// the wait would pass the queue deadline (Gateway:QueueWait, never past the request's own).
    /// </summary>
    private async Task<AdmissionQueue.Ticket> WaitInQueueAsync(
        DispatchRequest request, string modelSha, AdmissionQueue.Ticket? ticket, TimeSpan fallback, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var queueDeadline = time.GetUtcNow() + options.Value.QueueWait;
        if (queueDeadline > deadline)
        {
            queueDeadline = deadline;
        }

        if (ticket is null)
        {
            var refusal = queue.TryEnter(modelSha, request.Payer.ToString(), queueDeadline, out ticket);
            if (refusal != AdmissionRefusal.None || ticket is null)
            {
                metrics.Admission(refusal == AdmissionRefusal.QueueFull ? "queue-full" : "deadline", TimeSpan.Zero);
                throw new WorkersBusyException(queue.RetryAfter(modelSha, queue.Depth(modelSha) + 1, fallback));
            }

        }
        else
        {
            // The last turn found no free slot after all: wait for the next one.
            ticket.Dispose();
            var refusal = queue.TryEnter(modelSha, request.Payer.ToString(), queueDeadline, out var next);
            if (refusal != AdmissionRefusal.None || next is null)
            {
                metrics.Admission(refusal == AdmissionRefusal.QueueFull ? "queue-full" : "deadline", ticket.Waited);
                throw new WorkersBusyException(queue.RetryAfter(modelSha, queue.Depth(modelSha) + 1, fallback));
            }

            ticket = next;
        }

        bool turn;
        try
        {
            turn = await ticket.WaitTurnAsync(queueDeadline, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            metrics.Admission("cancelled", ticket.Waited);
            ticket.Dispose();
            throw;
        }

        if (!turn)
        {
            metrics.Admission("deadline", ticket.Waited);
            var position = queue.Depth(modelSha);
            ticket.Dispose();
            throw new WorkersBusyException(queue.RetryAfter(modelSha, position, fallback));
        }

        return ticket;
    }

    /// <summary>The tiers a request accepts: its own list, else tee plus simulated where simulated platforms are trusted.</summary>
    public IReadOnlyList<string> AcceptedTiers(DispatchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Tiers ?? TrustTiers.Default(options.Value.TrustedSimulatedPlatformKeys.Count > 0);
    }

    /// <summary>The caller failed while a lease was in flight: once its answer is in, a slot it took is given back.</summary>
    private async Task AbandonAsync(Task<bool> acquiring, ClaimedWorker claimed)
    {
        bool acquired;
        try
        {
            acquired = await acquiring.ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException)
        {
            return; // unknown: if it was taken, it expires on its own
        }

        if (acquired)
        {
            await ReleaseAsync(claimed).ConfigureAwait(false);
        }
    }

    /// <summary>Frees the slot and gives the next waiter its turn; a lease that cannot be released (Redis away) expires on its own.</summary>
    public async Task ReleaseAsync(ClaimedWorker claimed)
    {
        ArgumentNullException.ThrowIfNull(claimed);
        try
        {
            await leases.ReleaseAsync(claimed.Worker.Document.WorkerId, claimed.LeaseId, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The lease expires on its own.
        }

        queue.Released(claimed.Worker.Document.ModelSha256);
    }

    /// <summary>What the matcher weighs, as the directory and the reputation book report it; they only supply the numbers.</summary>
    private WorkerSnapshot Snapshot(EligibleWorker w) => new()
    {
        WorkerId = w.Document.WorkerId,
        ProviderId = w.ProviderId,
        ModelName = w.Document.ModelName,
        ModelSha256 = w.Document.ModelSha256,
        RunningJobs = w.Running,
        MaxConcurrency = w.MaxConcurrency,
        AverageJobTime = TimeSpan.FromMilliseconds(w.AverageJobMilliseconds),
        PriceCoefficient = w.PriceCoefficient,
        Region = w.Document.Region,
        SlaClass = w.SlaClass,
        Reputation = reputation.Score(w.Document.WorkerId),
        ContextLength = w.Document.ContextLength,
        Tier = w.Tier,
        Stake = stakes?.Stake(w.ProviderId) ?? 0,
    };
}
