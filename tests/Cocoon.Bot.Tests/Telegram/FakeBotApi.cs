using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>One call the bot made: the Bot API method and its JSON body.</summary>
public sealed record BotApiCall(string Method, JsonObject Body, DateTimeOffset At)
{
    public long ChatId => Body["chat_id"] is { } c ? long.Parse(c.ToString(), System.Globalization.CultureInfo.InvariantCulture) : 0;
    public string? Text => Body["text"]?.GetValue<string>();
}

/// <summary>
/// A Bot API server of our own on loopback HTTP, speaking Telegram's wire format: {"ok":true,"result":…} envelopes,
/// dates in Unix seconds, errors as {"ok":false,"error_code":…,"description":…} with Telegram's descriptions, and
/// 429 with parameters.retry_after. getUpdates long-polls a queue the test feeds and, like Telegram, keeps every
/// update until a later call confirms it with a higher offset. Every request is recorded for assertions.
/// </summary>
public sealed class FakeBotApi : IAsyncDisposable
{
    public const long BotId = 7_000_001;
    public const string BotUsername = "cocoon_test_bot";
    public const string Token = "7000001:AAFakeTokenForTestsOnly_abcdefghijk";

    private readonly HttpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _lock = new();
    private readonly List<JsonObject> _updates = [];
    private readonly List<BotApiCall> _calls = [];
    private readonly Dictionary<string, Queue<(int Code, string Description, int? RetryAfter)>> _faults = [];
    private readonly HashSet<(long Chat, long User)> _admins = [];
    private readonly HashSet<string> _unsupported = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextUpdateId = 100;
    private int _nextMessageId = 1000;

    public FakeBotApi()
    {
        // A free port can be taken between finding and binding it (tests run in parallel): try another.
        for (var attempt = 1; ; attempt++)
        {
            Port = RedisServer.FreePort();
            _listener = new HttpListener();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                _listener.Close();
            }
        }

        _loop = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>Queues an update (an update_id is assigned) and returns its id.</summary>
    public int Enqueue(JsonObject update)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_lock)
        {
            var id = _nextUpdateId++;
            update["update_id"] = id;
            _updates.Add(update);
            Signal();
            return id;
        }
    }

    /// <summary>Makes the next call of the method fail with this error (several calls queue several failures).</summary>
    public void FailNext(string method, int code, string description, int? retryAfter = null)
    {
        lock (_lock)
        {
            if (!_faults.TryGetValue(method, out var q))
            {
                _faults[method] = q = new Queue<(int, string, int?)>();
            }

            q.Enqueue((code, description, retryAfter));
        }
    }

    /// <summary>Answers this method like an older Bot API server that doesn't know it (404 Not Found).</summary>
    public void Unsupported(string method)
    {
        lock (_lock)
        {
            _unsupported.Add(method);
        }
    }

    public void MakeAdmin(long chatId, long userId)
    {
        lock (_lock)
        {
            _admins.Add((chatId, userId));
        }
    }

    public IReadOnlyList<BotApiCall> Calls(string? method = null)
    {
        lock (_lock)
        {
            return [.. _calls.Where(c => method is null || c.Method == method)];
        }
    }

    /// <summary>Updates Telegram still holds (not confirmed by a higher getUpdates offset).</summary>
    public int Unconfirmed
    {
        get
        {
            lock (_lock)
            {
                return _updates.Count;
            }
        }
    }

    /// <summary>Waits until the recorded calls satisfy the condition; fails the test with the calls seen on timeout.</summary>
    public async Task<IReadOnlyList<BotApiCall>> WaitForAsync(Func<IReadOnlyList<BotApiCall>, bool> condition, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition(_calls))
                {
                    return [.. _calls];
                }

                changed = _changed.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException("Condition not met. Calls: " + string.Join("\n", Calls().Select(c => $"{c.Method} {c.Body.ToJsonString()}")));
            }

            await Task.WhenAny(changed, Task.Delay(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200))).ConfigureAwait(false);
        }
    }

    public Task<IReadOnlyList<BotApiCall>> WaitForAsync(string method, Func<BotApiCall, bool> match, int count = 1, TimeSpan? timeout = null) =>
        WaitForAsync(calls => calls.Count(c => c.Method == method && match(c)) >= count, timeout);

    private void Signal()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(context));
        }
    }

    private async Task ServeAsync(HttpListenerContext context)
    {
        try
        {
            var path = context.Request.Url!.AbsolutePath; // /bot<token>/<method>
            var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (segments.Length != 2 || segments[0] != "bot" + Token)
            {
                await WriteAsync(context, 404, Error(404, "Not Found")).ConfigureAwait(false);
                return;
            }

            var method = segments[1];
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var text = await reader.ReadToEndAsync().ConfigureAwait(false);
            var body = text.Length > 0 ? JsonNode.Parse(text)!.AsObject() : [];

            (int Code, string Description, int? RetryAfter)? fault = null;
            bool unsupported;
            lock (_lock)
            {
                _calls.Add(new BotApiCall(method, body, DateTimeOffset.UtcNow));
                Signal();
                if (_faults.TryGetValue(method, out var q) && q.Count > 0)
                {
                    fault = q.Dequeue();
                }

                unsupported = _unsupported.Contains(method);
            }

            if (unsupported)
            {
                await WriteAsync(context, 404, Error(404, "Not Found: method not found")).ConfigureAwait(false);
                return;
            }

            if (fault is { } f)
            {
                var error = Error(f.Code, f.Description);
                if (f.RetryAfter is { } r)
                {
                    error["parameters"] = new JsonObject { ["retry_after"] = r };
                }

                await WriteAsync(context, f.Code, error).ConfigureAwait(false);
                return;
            }

            JsonNode result;
            try
            {
                result = method == "getUpdates" ? await GetUpdatesAsync(body).ConfigureAwait(false) : Result(method, body);
            }
            catch (FakeBotApiError refused)
            {
                await WriteAsync(context, refused.Code, Error(refused.Code, refused.Message)).ConfigureAwait(false);
                return;
            }

            await WriteAsync(context, 200, new JsonObject { ["ok"] = true, ["result"] = result }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
        {
        }
    }

    private async Task<JsonNode> GetUpdatesAsync(JsonObject body)
    {
        var offset = body["offset"]?.GetValue<int>() ?? 0;
        var timeout = body["timeout"]?.GetValue<int>() ?? 0;
        var limit = body["limit"]?.GetValue<int>() ?? 100;
        // As Telegram does: with allowed_updates set, an update of an unlisted type is never delivered.
        var allowed = body["allowed_updates"] is JsonArray list ? list.Select(t => t!.GetValue<string>()).ToHashSet(StringComparer.Ordinal) : null;
        var deadline = DateTime.UtcNow.AddSeconds(timeout);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                // As Telegram does: a call with an offset confirms (forgets) every earlier update.
                _updates.RemoveAll(u => u["update_id"]!.GetValue<int>() < offset
                    || (allowed is { Count: > 0 } && !u.Select(p => p.Key).Any(k => k != "update_id" && allowed.Contains(k))));
                if (_updates.Count > 0)
                {
                    return new JsonArray([.. _updates.Take(limit).Select(u => u.DeepClone())]);
                }

                changed = _changed.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || _stop.IsCancellationRequested)
            {
                return new JsonArray();
            }

            await Task.WhenAny(changed, Task.Delay(left, _stop.Token)).ConfigureAwait(false);
        }
    }

    private JsonNode Result(string method, JsonObject body)
    {
        switch (method)
        {
            case "getMe":
                return new JsonObject { ["id"] = BotId, ["is_bot"] = true, ["first_name"] = "Cocoon", ["username"] = BotUsername, ["can_join_groups"] = true };
            case "sendMessage":
            case "sendInvoice":
                {
                    var message = SentMessage(body);
                    if (body["ephemeral_message_parameters"] is not null)
                    {
                        // An ephemeral message (Bot API 10.2) is identified by its ephemeral_message_id in the chat.
                        message["ephemeral_message_id"] = message["message_id"]!.GetValue<int>();
                    }

                    return message;
                }

            case "sendWidget":
                return SentWidget(body);

            case "answerWidgetQuery":
                // answerWidgetQuery (Bot API 10.4): "On success, True is returned"; data is at most 1024 bytes.
                return Encoding.UTF8.GetByteCount(body["data"]?.GetValue<string>() ?? string.Empty) <= 1024
                    ? true
                    : throw new FakeBotApiError(400, "Bad Request: widget query answer data is too long (the fake's wording: the size rule is the docs', 0-1024 bytes)");

            case "answerGuestQuery":
                // SentGuestMessage (Bot API 10.0): the reply is an inline message posted into the guest chat.
                return new JsonObject { ["inline_message_id"] = "AgAAA" + Guid.NewGuid().ToString("N")[..16] };
            case "editMessageText":
            case "editMessageReplyMarkup":
                {
                    var message = SentMessage(body);
                    message["message_id"] = body["message_id"]!.GetValue<int>();
                    message["edit_date"] = Now;
                    return message;
                }

            case "getChatMember":
                {
                    var chat = long.Parse(body["chat_id"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture);
                    var user = body["user_id"]!.GetValue<long>();
                    bool admin;
                    lock (_lock)
                    {
                        admin = _admins.Contains((chat, user));
                    }

                    var u = new JsonObject { ["id"] = user, ["is_bot"] = false, ["first_name"] = "User" + user };
                    return admin
                        ? new JsonObject { ["status"] = "creator", ["user"] = u, ["is_anonymous"] = false }
                        : new JsonObject { ["status"] = "member", ["user"] = u };
                }

            default:
                // setMyCommands, deleteWebhook, sendChatAction, sendMessageDraft, answerCallbackQuery,
                // answerPreCheckoutQuery, refundStarPayment, ...: Telegram answers true.
                return true;
        }
    }

    private JsonObject SentMessage(JsonObject body)
    {
        var chatId = long.Parse(body["chat_id"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture);
        int id;
        lock (_lock)
        {
            id = _nextMessageId++;
        }

        var message = new JsonObject
        {
            ["message_id"] = id,
            ["date"] = Now,
            ["chat"] = Chat(chatId),
            ["from"] = new JsonObject { ["id"] = BotId, ["is_bot"] = true, ["first_name"] = "Cocoon", ["username"] = BotUsername },
        };
        if (body["text"] is { } text)
        {
            message["text"] = text.DeepClone();
        }

        if (body["reply_markup"] is JsonObject markup && markup["inline_keyboard"] is not null)
        {
            // Telegram echoes an inline keyboard in the sent Message.
            message["reply_markup"] = markup.DeepClone();
        }

        if (body["title"] is { } title)
        {
            message["invoice"] = new JsonObject
            {
                ["title"] = title.DeepClone(),
                ["description"] = body["description"]!.DeepClone(),
                ["start_parameter"] = string.Empty,
                ["currency"] = body["currency"]!.DeepClone(),
                ["total_amount"] = body["prices"]![0]!["amount"]!.DeepClone(),
            };
        }

        return message;
    }

    /// <summary>
    /// sendWidget (Bot API 10.4, core.telegram.org/bots/api/methods/sendwidget.md): checks what the page states (html
    /// 1-32768 bytes and at most 4096 bytes after zlib at the maximum level; in production only private chats) and
    /// answers the sent Message with its widget field (Widget: html, width, height, public_data, chat_data; id only
    /// for shared widgets). The error descriptions are the fake's own words: the page does not give Telegram's.
    /// </summary>
    private JsonObject SentWidget(JsonObject body)
    {
        var html = body["html"]?.GetValue<string>() ?? string.Empty;
        var bytes = Encoding.UTF8.GetByteCount(html);
        if (bytes is < 1 or > 32_768 || ZlibSize(html) > 4_096)
        {
            throw new FakeBotApiError(400, "Bad Request: widget HTML is too large (fake's wording)");
        }

        if (!(long.Parse(body["chat_id"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture) > 0))
        {
            throw new FakeBotApiError(400, "Bad Request: widgets can be sent only to private chats (fake's wording)");
        }

        var message = SentMessage(body);
        var widget = new JsonObject { ["html"] = html };
        foreach (var field in new[] { "width", "height", "public_data", "chat_data" })
        {
            if (body[field] is { } value)
            {
                widget[field] = value.DeepClone();
            }
        }

        message["widget"] = widget;
        if (body["caption"] is { } caption)
        {
            message["caption"] = caption.DeepClone();
        }

        return message;
    }

    private static int ZlibSize(string html)
    {
        using var output = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(output, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            zlib.Write(Encoding.UTF8.GetBytes(html));
        }

        return (int)output.Length;
    }

    private sealed class FakeBotApiError(int code, string description) : Exception(description)
    {
        public int Code { get; } = code;
    }

    private static JsonObject Error(int code, string description) =>
        new() { ["ok"] = false, ["error_code"] = code, ["description"] = description };

    private static async Task WriteAsync(HttpListenerContext context, int status, JsonObject payload)
    {
        var bytes = Encoding.UTF8.GetBytes(payload.ToJsonString());
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        context.Response.Close();
    }

    // ---- Updates as Telegram sends them ----

    public static JsonObject Chat(long chatId) => chatId > 0
        ? new JsonObject { ["id"] = chatId, ["type"] = "private", ["first_name"] = "User" + chatId }
        : new JsonObject { ["id"] = chatId, ["type"] = "supergroup", ["title"] = "Group" + chatId };

    public static JsonObject User(long userId) =>
        new() { ["id"] = userId, ["is_bot"] = false, ["first_name"] = "User" + userId, ["language_code"] = "en" };

    public static JsonObject Message(long chatId, long userId, string? text, int messageId)
    {
        var message = new JsonObject
        {
            ["message_id"] = messageId,
            ["date"] = Now,
            ["chat"] = Chat(chatId),
            ["from"] = User(userId),
        };
        if (text is not null)
        {
            message["text"] = text;
            if (text.StartsWith('/'))
            {
                var end = text.IndexOf(' ', StringComparison.Ordinal);
                message["entities"] = new JsonArray(new JsonObject { ["type"] = "bot_command", ["offset"] = 0, ["length"] = end < 0 ? text.Length : end });
            }
        }

        return message;
    }

    public static JsonObject TextUpdate(long chatId, long userId, string text, int messageId) =>
        new() { ["message"] = Message(chatId, userId, text, messageId) };

    public static JsonObject MentionUpdate(long chatId, long userId, string textAfterMention, int messageId)
    {
        var text = "@" + BotUsername + " " + textAfterMention;
        var message = Message(chatId, userId, text, messageId);
        message["entities"] = new JsonArray(new JsonObject { ["type"] = "mention", ["offset"] = 0, ["length"] = BotUsername.Length + 1 });
        return new JsonObject { ["message"] = message };
    }

    /// <summary>A user pressed Stop on a draft sent with can_stop (Bot API 10.3 MessageGenerationStopped).</summary>
    public static JsonObject StoppedGenerationUpdate(long chatId, long draftId) =>
        new() { ["stopped_message_generation"] = new JsonObject { ["chat"] = Chat(chatId), ["draft_id"] = draftId } };

    /// <summary>The bot @-mentioned as a guest in a chat it is not a member of (Bot API 10.0 guest_message).</summary>
    public static JsonObject GuestUpdate(long chatId, long userId, string textAfterMention, int messageId, string guestQueryId)
    {
        var text = "@" + BotUsername + " " + textAfterMention;
        var message = Message(chatId, userId, text, messageId);
        message["entities"] = new JsonArray(new JsonObject { ["type"] = "mention", ["offset"] = 0, ["length"] = BotUsername.Length + 1 });
        message["guest_query_id"] = guestQueryId;
        return new JsonObject { ["guest_message"] = message };
    }

    /// <summary>
    /// A query from a widget in a message the bot sent (Bot API 10.4 widget_query: WidgetQuery with id, from,
    /// chat_instance, type, data, chat, message_id); <paramref name="type"/> is the WidgetQueryType object.
    /// </summary>
    public static JsonObject WidgetQueryUpdate(long chatId, long userId, int messageId, string queryId, JsonObject type, string data) =>
        new()
        {
            ["widget_query"] = new JsonObject
            {
                ["id"] = queryId,
                ["from"] = User(userId),
                ["chat_instance"] = "ci" + chatId,
                ["type"] = type,
                ["data"] = data,
                ["chat"] = Chat(chatId),
                ["message_id"] = messageId,
            },
        };

    /// <summary>WidgetQueryTypeData with the user's TonWalletCard (address, amount as a decimal string, stickers).</summary>
    public static JsonObject DataQueryType(string? walletCardAddress = null, long walletCardNanotons = 0)
    {
        var type = new JsonObject { ["type"] = "data" };
        if (walletCardAddress is not null)
        {
            type["wallet_card"] = new JsonObject
            {
                ["address"] = walletCardAddress,
                ["amount"] = walletCardNanotons.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["stickers"] = new JsonArray(),
            };
        }

        return type;
    }

    /// <summary>WidgetQueryTypeSentTransaction: the wallet (WidgetQueryWallet) and the msg_hash of the sent transaction.</summary>
    public static JsonObject SentTransactionQueryType(string walletAddress, string msgHash) =>
        new()
        {
            ["type"] = "sent_transaction",
            ["wallet"] = new JsonObject { ["address"] = walletAddress, ["amount"] = "0" },
            ["msg_hash"] = msgHash,
        };

    public static JsonObject PhotoUpdate(long chatId, long userId, int messageId)
    {
        var message = Message(chatId, userId, null, messageId);
        message["photo"] = new JsonArray(new JsonObject { ["file_id"] = "AgAD", ["file_unique_id"] = "AQAD", ["width"] = 90, ["height"] = 90, ["file_size"] = 1234 });
        return new JsonObject { ["message"] = message };
    }

    public static JsonObject MyChatMember(long chatId, long byUserId, string oldStatus, string newStatus)
    {
        var bot = new JsonObject { ["id"] = BotId, ["is_bot"] = true, ["first_name"] = "Cocoon", ["username"] = BotUsername };
        return new JsonObject
        {
            ["my_chat_member"] = new JsonObject
            {
                ["chat"] = Chat(chatId),
                ["from"] = User(byUserId),
                ["date"] = Now,
                ["old_chat_member"] = new JsonObject { ["status"] = oldStatus, ["user"] = bot.DeepClone() },
                ["new_chat_member"] = new JsonObject { ["status"] = newStatus, ["user"] = bot.DeepClone() },
            },
        };
    }

    public static JsonObject CallbackUpdate(long chatId, long userId, string data, int messageId) =>
        new()
        {
            ["callback_query"] = new JsonObject
            {
                ["id"] = "cb" + Guid.NewGuid().ToString("N")[..12],
                ["from"] = User(userId),
                ["chat_instance"] = "ci" + chatId,
                ["data"] = data,
                ["message"] = new JsonObject
                {
                    ["message_id"] = messageId,
                    ["date"] = Now,
                    ["chat"] = Chat(chatId),
                    ["from"] = new JsonObject { ["id"] = BotId, ["is_bot"] = true, ["first_name"] = "Cocoon" },
                    ["text"] = "Choose an amount:",
                },
            },
        };

    public static JsonObject PreCheckoutUpdate(long userId, string payload, int amount, string currency = "XTR") =>
        new()
        {
            ["pre_checkout_query"] = new JsonObject
            {
                ["id"] = "pcq" + Guid.NewGuid().ToString("N")[..12],
                ["from"] = User(userId),
                ["currency"] = currency,
                ["total_amount"] = amount,
                ["invoice_payload"] = payload,
            },
        };

    public static JsonObject SuccessfulPaymentUpdate(long userId, string payload, int amount, string chargeId, int messageId)
    {
        var message = Message(userId, userId, null, messageId);
        message["successful_payment"] = new JsonObject
        {
            ["currency"] = "XTR",
            ["total_amount"] = amount,
            ["invoice_payload"] = payload,
            ["telegram_payment_charge_id"] = chargeId,
            ["provider_payment_charge_id"] = string.Empty,
        };
        return new JsonObject { ["message"] = message };
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            _listener.Stop();
            _listener.Close();
        }
        catch (HttpListenerException)
        {
            // The managed HttpListener looks its port up again while closing and can fail with "Address already in
            // use" when another process took the freed port meanwhile; the listener is stopped either way.
        }

        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }
}
