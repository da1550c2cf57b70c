using System.Text;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Transport;
using global::Telegram.Bot;
using global::Telegram.Bot.Exceptions;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.Enums;
using global::Telegram.Bot.Types.ReplyMarkups;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Chats;

/// <param name="RequestId">The dispatch's request id: the final message gets a "Verify" button for its receipt.</param>
public sealed record StreamTarget(long ChatId, bool IsPrivate, int? ReplyToMessageId, int? ThreadId, long DraftId, string? RequestId = null);

/// <summary>The answer as the model wrote it; Stopped when the user pressed Stop (then Text is what was kept).</summary>
public sealed record StreamResult(string Text, DispatchReceipt? Receipt, bool Stopped = false);

/// <summary>
/// Shows an answer while it is generated. Private chats get sendMessageDraft previews and one final message;
/// elsewhere (or when the server refuses drafts) one message is edited, at most once per interval and only when
/// its text changed. "Typing…" is shown until the first words arrive. Text beyond 4,096 characters continues in
/// a new message, cut on a paragraph boundary (never inside a code or reasoning block). The model's Markdown is sent
/// as entities (plain text when the server refuses them). Drafts carry a Stop button (Bot API 10.3): pressing it
/// cancels the job (the dispatch's token) and what was written so far becomes the final message.
/// </summary>
public sealed partial class AnswerStreamer(
    ITelegramBotClient bot,
    BlockedChats blocked,
    GenerationStops stops,
    TimeProvider time,
    IOptions<TelegramOptions> options,
    ILogger<AnswerStreamer> logger)
{
    public const string StoppedNote = "⏹ Stopped.";
    private static readonly TimeSpan TypingEvery = TimeSpan.FromSeconds(4);
    private volatile bool _draftsRefused;

    public async Task<StreamResult> StreamAsync(StreamTarget target, IAsyncEnumerable<DispatchEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(events);
        var state = new State(target, target.IsPrivate && options.Value.UseDrafts && !_draftsRefused) { Plain = !options.Value.RichAnswers };
        var interval = target.IsPrivate ? options.Value.EditInterval : options.Value.GroupEditInterval;
        DispatchReceipt? receipt = null;

        // The job's token joins the dispatch's own (an async iterator combines both): Stop cancels the job, which the
        // dispatcher passes on to the worker; shutdown still cancels everything.
        using var stop = target.IsPrivate && options.Value.AllowStop ? stops.Register(target.ChatId, target.DraftId) : null;
        using var job = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stop?.Token ?? CancellationToken.None);

        using var typingStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var typing = KeepTypingAsync(target, typingStop.Token);
        try
        {
            var lastShown = time.GetTimestamp();
            await foreach (var ev in events.WithCancellation(job.Token).ConfigureAwait(false))
            {
                switch (ev)
                {
                    case DispatchPiece piece:
                        state.Text.Append(piece.Text);
                        if (stop?.Token.IsCancellationRequested == true)
                        {
                            break; // the part taken before Stop, handed over after it: it goes into the final message only
                        }

                        if (!state.AnyShown || time.GetElapsedTime(lastShown) >= interval)
                        {
                            if (!state.AnyShown && state.Text.ToString().Trim().Length > 0)
                            {
                                await typingStop.CancelAsync().ConfigureAwait(false);
                            }

                            await ShowAsync(state, final: false, cancellationToken).ConfigureAwait(false);
                            lastShown = time.GetTimestamp();
                        }

                        break;
                    case DispatchCompleted done:
                        receipt = done.Receipt;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (stop is { Token.IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested)
        {
            // The user pressed Stop: the job is cancelled (billed only from the worker's receipt for the part delivered,
            // if it sends one) and the text so far is kept.
            state.StoppedByUser = true;
            LogStopped(logger, target.ChatId, target.DraftId, state.Text.Length);
        }
        finally
        {
            await typingStop.CancelAsync().ConfigureAwait(false);
            await typing.ConfigureAwait(false);
        }

        var answer = state.Text.ToString();
        if (state.StoppedByUser)
        {
            // A draft kept on Stop still vanishes after a while: the kept text is sent as the final message.
            state.Text.Append(answer.Trim().Length > 0 ? "\n\n" + StoppedNote : StoppedNote);
        }
        else if (receipt is not null && options.Value.ShowTier)
        {
            // Every answer says in which trust tier it was served (the conversation keeps only the model's text).
            state.Text.Append("\n\n" + TierLabels.Footer(receipt.Tier));
        }

        // A stopped answer may have a receipt for its part too (the dispatcher stores it): the button says if not.
        state.FinalMarkup = (receipt is not null || state.StoppedByUser) && target.RequestId is { } id ? Receipts.VerifyButton.Keyboard(id) : null;
        await ShowAsync(state, final: true, cancellationToken).ConfigureAwait(false);
        return new StreamResult(answer, receipt, state.StoppedByUser);
    }

    private async Task KeepTypingAsync(StreamTarget target, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested && !blocked.IsBlocked(target.ChatId))
            {
                await bot.SendChatAction(target.ChatId, ChatAction.Typing, target.ThreadId, cancellationToken: cancellationToken).ConfigureAwait(false);
                await Task.Delay(TypingEvery, time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is ApiRequestException or RequestException)
        {
            // The typing indicator is a courtesy; its failure must not fail the answer.
        }
    }

    private async Task ShowAsync(State s, bool final, CancellationToken cancellationToken)
    {
        if (s.Stopped)
        {
            return;
        }

        var pending = s.Carry + s.Text.ToString(s.Committed, s.Text.Length - s.Committed);
        while (pending.Length > MessageSplitter.MaxLength)
        {
            var (head, restStart, carry) = RichCut.CutFirst(pending);
            await PutAsync(s, head, last: true, cancellationToken).ConfigureAwait(false);
            s.Committed += restStart - s.Carry.Length;
            s.Carry = carry;
            pending = carry + pending[restStart..];
        }

        var visible = pending.Trim();
        if (final)
        {
            s.Finishing = true;
            if (visible.Length > 0)
            {
                await PutAsync(s, pending.TrimEnd(), last: true, cancellationToken).ConfigureAwait(false);
            }
            else if (!s.AnyShown)
            {
                await PutAsync(s, "(The model returned an empty answer.)", last: true, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (visible.Length > 0)
        {
            await PutAsync(s, pending.TrimEnd(), last: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Shows text as the current message: final (last) or a preview that later calls replace.</summary>
    private async Task PutAsync(State s, string text, bool last, CancellationToken cancellationToken)
    {
        if (s.Stopped || blocked.IsBlocked(s.Target.ChatId))
        {
            s.Stopped = true;
            return;
        }

        // The model's Markdown as entities; its own text (markers and all) when the server refused entities.
        var rich = s.Plain ? new FormattedText(text, []) : RichTextRenderer.Render(text);
        if (rich.Text.Length == 0)
        {
            rich = new FormattedText(text, []);
        }

        var entities = rich.Entities.Count > 0 ? rich.Entities : null;
        var markup = last && s.Finishing ? s.FinalMarkup : null;
        try
        {
            if (s.UseDraft && !last)
            {
                if (text != s.Shown)
                {
                    try
                    {
                        await bot.SendMessageDraft(
                            s.Target.ChatId, s.Target.DraftId, rich.Text, entities: entities,
                            canStop: options.Value.AllowStop, keepOnStop: options.Value.AllowStop,
                            cancellationToken: cancellationToken).ConfigureAwait(false);
                        s.Shown = text;
                        s.AnyShown = true;
                    }
                    catch (ApiRequestException ex) when (IsEntityError(ex) && !s.Plain)
                    {
                        RefuseEntities(s, ex);
                        await PutAsync(s, text, last, cancellationToken).ConfigureAwait(false);
                    }
                    catch (ApiRequestException ex) when (ex.ErrorCode is 400 or 404 && !IsNotModified(ex))
                    {
                        // An older Bot API server, or drafts not allowed in this chat: edit a message instead.
                        _draftsRefused = true;
                        s.UseDraft = false;
                        LogDraftsRefused(logger, ex.ErrorCode);
                        await PutAsync(s, text, last, cancellationToken).ConfigureAwait(false);
                    }
                }

                return;
            }

            try
            {
                if (s.MessageId is null)
                {
                    var sent = await bot.SendMessage(
                        s.Target.ChatId,
                        rich.Text,
                        replyParameters: s.Target.ReplyToMessageId is { } r ? new ReplyParameters { MessageId = r, AllowSendingWithoutReply = true } : null,
                        linkPreviewOptions: new LinkPreviewOptions { IsDisabled = true },
                        messageThreadId: s.Target.ThreadId,
                        entities: entities,
                        replyMarkup: markup,
                        cancellationToken: cancellationToken).ConfigureAwait(false);
                    s.MessageId = sent.MessageId;
                    s.Shown = text;
                }
                else if (text != s.Shown)
                {
                    try
                    {
                        await bot.EditMessageText(s.Target.ChatId, s.MessageId.Value, rich.Text, linkPreviewOptions: new LinkPreviewOptions { IsDisabled = true }, entities: entities, replyMarkup: markup, cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                    catch (ApiRequestException ex) when (IsNotModified(ex))
                    {
                    }

                    s.Shown = text;
                }
                else if (markup is not null)
                {
                    // The last preview already shows the final text: only the button is new.
                    await bot.EditMessageReplyMarkup(s.Target.ChatId, s.MessageId.Value, markup, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            }
            catch (ApiRequestException ex) when (IsEntityError(ex) && !s.Plain)
            {
                RefuseEntities(s, ex);
                await PutAsync(s, text, last, cancellationToken).ConfigureAwait(false);
                return;
            }

            s.AnyShown = true;
            if (last)
            {
                // The next text starts a new message (a continuation, or nothing more).
                s.MessageId = null;
                s.Shown = string.Empty;
            }
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 403)
        {
            s.Stopped = true;
        }
    }

    private void RefuseEntities(State s, ApiRequestException ex)
    {
        s.Plain = true;
        s.Shown = string.Empty; // the same text goes again, as plain text
        LogEntitiesRefused(logger, ex.Message);
    }

    /// <summary>Telegram's 400s about formatting ("can't parse entities", "entity … is out of range", …).</summary>
    internal static bool IsEntityError(ApiRequestException ex) =>
        ex.ErrorCode == 400 && ex.Message.Contains("entit", StringComparison.OrdinalIgnoreCase);

    internal static bool IsNotModified(ApiRequestException ex) =>
        ex.ErrorCode == 400 && ex.Message.Contains("message is not modified", StringComparison.OrdinalIgnoreCase);

    private sealed class State(StreamTarget target, bool useDraft)
    {
        public StreamTarget Target { get; } = target;
        public StringBuilder Text { get; } = new();
        public bool UseDraft { get; set; } = useDraft;
        public int Committed { get; set; }
        public int? MessageId { get; set; }
        public string Shown { get; set; } = string.Empty;
        public bool AnyShown { get; set; }
        public bool Stopped { get; set; }
        public bool StoppedByUser { get; set; }
        public bool Plain { get; set; }

        /// <summary>The final show is under way: its last message carries <see cref="FinalMarkup"/>.</summary>
        public bool Finishing { get; set; }

        public InlineKeyboardMarkup? FinalMarkup { get; set; }

        /// <summary>Markdown that reopens a block cut at the end of the previous message.</summary>
        public string Carry { get; set; } = string.Empty;
    }

    [LoggerMessage(EventId = LogEvents.Answers + 1, Level = LogLevel.Information, Message = "Answer in chat {ChatId} (draft {DraftId}) stopped by the user after {Characters} characters")]
    private static partial void LogStopped(ILogger logger, long chatId, long draftId, int characters);

    [LoggerMessage(EventId = LogEvents.Answers + 2, Level = LogLevel.Information, Message = "Formatted text refused ({Description}); this answer continues as plain text")]
    private static partial void LogEntitiesRefused(ILogger logger, string description);

    [LoggerMessage(EventId = LogEvents.Answers + 3, Level = LogLevel.Information, Message = "sendMessageDraft refused ({ErrorCode}); streaming by editing messages instead")]
    private static partial void LogDraftsRefused(ILogger logger, int errorCode);
}
