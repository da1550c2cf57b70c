namespace Cocoon.Bot.Dispatch;

/// <summary>What a request is told when it cannot wait: the queue is full, or its turn would come after its deadline.</summary>
public enum AdmissionRefusal
{
    None,
    QueueFull,
    DeadlineTooClose,
}

/// <summary>
/// A bounded wait for a worker slot, per model, instead of an immediate 429. Waiters are granted turns round-robin by
/// payer (one caller's burst of 30 does not push another caller's single request to the back), one turn per freed
/// slot (<see cref="Released"/>); a granted waiter then claims a lease as usual. Because slots can also free up where
/// this gateway cannot see it (another gateway, an expired lease), the waiter whose turn is next grants itself a turn
/// every <see cref="Poll"/>. The service rate (slots freed per second, measured from <see cref="Released"/>) sizes
/// Retry-After and tells a request at once when its turn would come after its deadline.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "It is a queue: callers wait in it for a turn.")]
public sealed class AdmissionQueue(int maxDepth, TimeProvider time)
{
    /// <summary>How often the next waiter tries on its own, in case a slot freed without a <see cref="Released"/>.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    private const int RateWindow = 64;
    private readonly TimeProvider _time = time;
    private readonly Dictionary<string, ModelQueue> _models = new(StringComparer.OrdinalIgnoreCase);

    public int MaxDepth { get; } = maxDepth;

    /// <summary>Requests waiting for this model now.</summary>
    public int Depth(string model)
    {
        lock (_models)
        {
            return _models.TryGetValue(model, out var q) ? q.Count : 0;
        }
    }

    /// <summary>Requests waiting over all models (the queue-depth gauge).</summary>
    public int TotalDepth
    {
        get
        {
            lock (_models)
            {
                return _models.Values.Sum(q => q.Count);
            }
        }
    }

    /// <summary>Slots freed per second for this model, measured over the last releases; null before two were seen.</summary>
    public double? ServiceRate(string model)
    {
        lock (_models)
        {
            return _models.TryGetValue(model, out var q) ? q.Rate(_time) : null;
        }
    }

    /// <summary>
    /// When a request that would be at <paramref name="position"/> (1 = next) should come back: position / measured
    /// rate, at least a second; <paramref name="fallback"/> while nothing has been measured.
    /// </summary>
    public TimeSpan RetryAfter(string model, int position, TimeSpan fallback)
    {
        var rate = ServiceRate(model);
        if (rate is not > 0)
        {
            return fallback < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : fallback;
        }

        var seconds = Math.Clamp(Math.Max(1, position) / rate.Value, 1, 3600);
        return TimeSpan.FromSeconds(Math.Ceiling(seconds));
    }

    /// <summary>
    /// Joins the queue unless it is full or the turn would come after <paramref name="deadline"/> (by the measured
    /// rate). The returned ticket's <see cref="Ticket.WaitTurnAsync"/> completes when it is this waiter's turn.
    /// </summary>
    public AdmissionRefusal TryEnter(string model, string payer, DateTimeOffset deadline, out Ticket? ticket)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(payer);
        ticket = null;
        lock (_models)
        {
            if (!_models.TryGetValue(model, out var q))
            {
                q = new ModelQueue();
                _models[model] = q;
            }

            if (q.Count >= MaxDepth)
            {
                return AdmissionRefusal.QueueFull;
            }

            if (q.Rate(_time) is > 0 and var rate && _time.GetUtcNow() + TimeSpan.FromSeconds((q.Count + 1) / rate) > deadline)
            {
                return AdmissionRefusal.DeadlineTooClose;
            }

            ticket = new Ticket(this, model, payer, _time.GetTimestamp());
            q.Add(ticket);
            return AdmissionRefusal.None;
        }
    }

    /// <summary>True when requests are waiting for this model: a newcomer joins them instead of overtaking.</summary>
    public bool HasWaiters(string model)
    {
        lock (_models)
        {
            return _models.TryGetValue(model, out var q) && q.Count > 0;
        }
    }

    /// <summary>A slot of this model was freed: the next waiter (round-robin by payer) gets a turn.</summary>
    public void Released(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_models)
        {
            if (!_models.TryGetValue(model, out var q))
            {
                q = new ModelQueue();
                _models[model] = q;
            }

            q.Completions.Enqueue(_time.GetTimestamp());
            while (q.Completions.Count > RateWindow)
            {
                q.Completions.Dequeue();
            }

            q.GrantNext();
        }
    }

    private void Leave(Ticket ticket)
    {
        lock (_models)
        {
            if (_models.TryGetValue(ticket.Model, out var q) && q.Remove(ticket) && ticket.Granted)
            {
                // A turn given to a waiter that left unused goes to the next one.
                q.GrantNext();
            }
        }
    }

    private bool IsNext(Ticket ticket)
    {
        lock (_models)
        {
            return _models.TryGetValue(ticket.Model, out var q) && ReferenceEquals(q.PeekNext(), ticket);
        }
    }

    private void SelfGrant(Ticket ticket)
    {
        lock (_models)
        {
            if (_models.TryGetValue(ticket.Model, out var q) && ReferenceEquals(q.PeekNext(), ticket))
            {
                q.GrantNext();
            }
        }
    }

    /// <summary>One waiting request. Dispose it when done (claimed, refused or cancelled): it leaves the queue.</summary>
    public sealed class Ticket : IDisposable
    {
        private readonly AdmissionQueue _queue;
        private readonly TaskCompletionSource _turn = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Ticket(AdmissionQueue queue, string model, string payer, long enteredAt)
        {
            _queue = queue;
            Model = model;
            Payer = payer;
            EnteredAt = enteredAt;
        }

        public string Model { get; }

        public string Payer { get; }

        internal long EnteredAt { get; }

        internal bool Granted => _turn.Task.IsCompleted;

        /// <summary>True once this waiter has been given its turn.</summary>
        public bool HasTurn => Granted;

        /// <summary>How long this request has waited so far.</summary>
        public TimeSpan Waited => _queue._time.GetElapsedTime(EnteredAt);

        internal void Grant() => _turn.TrySetResult();

        /// <summary>
        /// Completes when it is this waiter's turn (a slot freed, or its poll came round); false when
        /// <paramref name="deadline"/> passed first.
        /// </summary>
        public async Task<bool> WaitTurnAsync(DateTimeOffset deadline, CancellationToken cancellationToken)
        {
            while (!_turn.Task.IsCompleted)
            {
                var left = deadline - _queue._time.GetUtcNow();
                if (left <= TimeSpan.Zero)
                {
                    return false;
                }

                try
                {
                    await _turn.Task.WaitAsync(left < Poll ? left : Poll, _queue._time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    if (_queue.IsNext(this))
                    {
                        _queue.SelfGrant(this);
                    }
                }
            }

            return true;
        }

        public void Dispose() => _queue.Leave(this);
    }

    /// <summary>Waiters of one model: a FIFO per payer and a rotation of payers.</summary>
    private sealed class ModelQueue
    {
        private readonly Dictionary<string, LinkedList<Ticket>> _byPayer = new(StringComparer.Ordinal);
        private readonly LinkedList<string> _rotation = new();

        public Queue<long> Completions { get; } = new();

        public int Count { get; private set; }

        public void Add(Ticket ticket)
        {
            if (!_byPayer.TryGetValue(ticket.Payer, out var list))
            {
                list = new LinkedList<Ticket>();
                _byPayer[ticket.Payer] = list;
                _rotation.AddLast(ticket.Payer);
            }

            list.AddLast(ticket);
            Count++;
        }

        public bool Remove(Ticket ticket)
        {
            if (!_byPayer.TryGetValue(ticket.Payer, out var list) || !list.Remove(ticket))
            {
                return false;
            }

            Count--;
            if (list.Count == 0)
            {
                _byPayer.Remove(ticket.Payer);
                _rotation.Remove(ticket.Payer);
            }

            return true;
        }

        /// <summary>The first ungranted waiter of the payer whose turn it is.</summary>
        public Ticket? PeekNext()
        {
            foreach (var payer in _rotation)
            {
                foreach (var t in _byPayer[payer])
                {
                    if (!t.Granted)
                    {
                        return t;
                    }
                }
            }

            return null;
        }

        /// <summary>Grants the next waiter and moves its payer to the back of the rotation.</summary>
        public void GrantNext()
        {
            if (PeekNext() is not { } next)
            {
                return;
            }

            next.Grant();
            _rotation.Remove(next.Payer);
            _rotation.AddLast(next.Payer);
        }

        public double? Rate(TimeProvider time)
        {
            if (Completions.Count < 2)
            {
                return null;
            }

            var span = time.GetElapsedTime(Completions.Peek(), Completions.Last()).TotalSeconds;
            return span > 0 ? (Completions.Count - 1) / span : null;
        }
    }
}
