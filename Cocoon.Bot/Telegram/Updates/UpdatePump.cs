using System.Threading.Channels;
using global::Telegram.Bot.Types;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Updates;

/// <summary>
/// Runs handlers: a fixed number of lanes, each a bounded queue worked by one loop, and a chat always maps to the
/// same lane. So one chat's updates are handled in order, different chats in parallel, and a flood waits in the
/// queue (back pressure on the poller) instead of growing memory. A handler that throws is logged with its
/// update_id and the update is completed anyway: one poisoned update must not block its chat forever.
/// </summary>
public sealed partial class UpdatePump(UpdateRouter router, UpdateInbox inbox, IOptions<TelegramOptions> options, ILogger<UpdatePump> logger)
    : IHostedService, IDisposable
{
    private readonly Lock _lock = new();
    private readonly HashSet<long> _queued = [];
    private Channel<Update>[] _lanes = [];
    private Task[] _workers = [];
    private CancellationTokenSource? _stopping;
    private volatile bool _draining;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var n = options.Value.ParallelChats;
        _stopping = new CancellationTokenSource();
        _lanes = new Channel<Update>[n];
        _workers = new Task[n];
        for (var i = 0; i < n; i++)
        {
            _lanes[i] = Channel.CreateBounded<Update>(new BoundedChannelOptions(options.Value.LaneCapacity) { SingleReader = true });
            var lane = _lanes[i];
            _workers[i] = Task.Run(() => RunLaneAsync(lane, _stopping.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    /// <summary>Queues an accepted update on its chat's lane; waits while that lane is full.</summary>
    public async ValueTask EnqueueAsync(Update update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_lock)
        {
            // A replayed update may also come back from getUpdates; it must not run twice in this process.
            if (!_queued.Add(update.Id))
            {
                return;
            }
        }

        // Stop must not queue behind the answer it stops (same chat, same lane), and a widget query is due within
        // 15 seconds (answerWidgetQuery) however long the chat's answer runs: both are handled at once.
        if (update.Type == global::Telegram.Bot.Types.Enums.UpdateType.StoppedMessageGeneration || update is ExtendedUpdate { WidgetQuery: not null })
        {
            _ = Task.Run(() => HandleAsync(update, _stopping!.Token), CancellationToken.None);
            return;
        }

        var lane = _lanes[(int)((ulong)ChatKey(update) % (ulong)_lanes.Length)];
        await lane.Writer.WriteAsync(update, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops taking new work; handlers already running finish (until the host's shutdown timeout). Queued updates stay in the inbox for the next start.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        foreach (var lane in _lanes)
        {
            lane.Writer.TryComplete();
        }

        try
        {
            await Task.WhenAll(_workers).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _stopping!.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
    }

    public void Dispose() => _stopping?.Dispose();

    /// <summary>The chat an update belongs to (the payer for payments), so its updates stay in order.</summary>
    public static long ChatKey(Update update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return update switch
        {
            { Message: { } m } => m.Chat.Id,
            { EditedMessage: { } m } => m.Chat.Id,
            { CallbackQuery: { } q } => q.Message?.Chat.Id ?? q.From.Id,
            { MyChatMember: { } c } => c.Chat.Id,
            { PreCheckoutQuery: { } p } => p.From.Id,
            ExtendedUpdate { WidgetQuery: { } w } => w.Chat?.Id ?? w.From.Id,
            _ => 0,
        };
    }

    private async Task RunLaneAsync(Channel<Update> lane, CancellationToken stopping)
    {
        await foreach (var update in lane.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (_draining)
            {
                await ReleaseAsync(update.Id).ConfigureAwait(false);
                continue;
            }

            await HandleAsync(update, stopping).ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(Update update, CancellationToken stopping)
    {
        try
        {
            // Another replica may be handling it (it accepted the update, or took it over): then it is not ours.
            if (!await inbox.ClaimAsync(update.Id, stopping).ConfigureAwait(false))
            {
                LogNotOurs(logger, update.Id);
                lock (_lock)
                {
                    _queued.Remove(update.Id);
                }

                return;
            }
        }
#pragma warning disable CA1031 // Redis down: leave the update in the inbox; a sweep hands it out again.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogClaimFailed(logger, update.Id, ex);
            lock (_lock)
            {
                _queued.Remove(update.Id);
            }

            return;
        }

        using var renewal = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var renewing = RenewWhileHandlingAsync(update.Id, renewal.Token);
        try
        {
            using var handled = HandledUpdate.Begin(update.Id);
            await router.HandleAsync(update, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Cut short by shutdown: it stays in the inbox and its lease is given up, so the next sweep (here after a
            // restart, or on another replica) handles it again at once.
            await renewal.CancelAsync().ConfigureAwait(false);
            await renewing.ConfigureAwait(false);
            await ReleaseAsync(update.Id).ConfigureAwait(false);
            return;
        }
#pragma warning disable CA1031 // One failing update is logged and skipped; the lane must keep running.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogHandlerFailed(logger, update.Id, update.Type, ex);
        }

        try
        {
            await inbox.CompleteAsync(update.Id, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Redis down: the update is replayed after restart, which is the safe side.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogCompleteFailed(logger, update.Id, ex);
        }
        finally
        {
            await renewal.CancelAsync().ConfigureAwait(false);
            await renewing.ConfigureAwait(false);
            lock (_lock)
            {
                _queued.Remove(update.Id);
            }
        }
    }

    private async Task ReleaseAsync(long updateId)
    {
        try
        {
            await inbox.ReleaseAsync(updateId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            // The lease then simply runs out.
            LogRenewFailed(logger, updateId, ex);
        }
    }

    /// <summary>Keeps this replica's lease on the update alive while its handler runs (every third of the lease).</summary>
    private async Task RenewWhileHandlingAsync(long updateId, CancellationToken cancellationToken)
    {
        var every = options.Value.InboxLease / 3;
        try
        {
            while (true)
            {
                await Task.Delay(every, cancellationToken).ConfigureAwait(false);
                try
                {
                    if (!await inbox.RenewAsync(updateId, cancellationToken).ConfigureAwait(false))
                    {
                        LogLeaseLost(logger, updateId);
                        return;
                    }
                }
                catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
                {
                    LogRenewFailed(logger, updateId, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = LogEvents.UpdatePump + 1, Level = LogLevel.Error, Message = "Handling update {UpdateId} ({UpdateType}) failed; it is skipped")]
    private static partial void LogHandlerFailed(ILogger logger, long updateId, global::Telegram.Bot.Types.Enums.UpdateType updateType, Exception exception);

    [LoggerMessage(EventId = LogEvents.UpdatePump + 2, Level = LogLevel.Warning, Message = "Could not mark update {UpdateId} as handled; the next inbox sweep hands it out again")]
    private static partial void LogCompleteFailed(ILogger logger, long updateId, Exception exception);

    [LoggerMessage(EventId = LogEvents.UpdatePump + 3, Level = LogLevel.Debug, Message = "Update {UpdateId} is handled by another replica (or done); skipped here")]
    private static partial void LogNotOurs(ILogger logger, long updateId);

    [LoggerMessage(EventId = LogEvents.UpdatePump + 4, Level = LogLevel.Warning, Message = "Could not claim update {UpdateId}; it stays in the inbox for the next sweep")]
    private static partial void LogClaimFailed(ILogger logger, long updateId, Exception exception);

    [LoggerMessage(EventId = LogEvents.UpdatePump + 5, Level = LogLevel.Warning, Message = "The lease on update {UpdateId} expired while it was handled; another replica may take it over")]
    private static partial void LogLeaseLost(ILogger logger, long updateId);

    [LoggerMessage(EventId = LogEvents.UpdatePump + 6, Level = LogLevel.Warning, Message = "Could not renew the lease on update {UpdateId}; retrying")]
    private static partial void LogRenewFailed(ILogger logger, long updateId, Exception exception);
}
