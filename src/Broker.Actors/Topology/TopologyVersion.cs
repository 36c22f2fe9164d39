namespace Broker.Actors.Topology;

/// <summary>
/// The version of one exchange's or queue's entry in the replicated topology. Epoch is chosen by
/// each incarnation of the owning entity when it starts, above every version this node has seen
/// for that name (and at least the wall clock), so a queue that moved or failed over always
/// writes above its previous owner; Seq counts the changes of one incarnation. A replica applies
/// an update only if its version is higher than the one it holds: a stale update never wins.
/// </summary>
public readonly record struct TopologyVersion(long Epoch, long Seq) : IComparable<TopologyVersion>
{
    public static readonly TopologyVersion None = new(0, 0);

    public int CompareTo(TopologyVersion other) => Epoch != other.Epoch ? Epoch.CompareTo(other.Epoch) : Seq.CompareTo(other.Seq);

    public static bool operator >(TopologyVersion a, TopologyVersion b) => a.CompareTo(b) > 0;

    public static bool operator <(TopologyVersion a, TopologyVersion b) => a.CompareTo(b) < 0;

    public static bool operator >=(TopologyVersion a, TopologyVersion b) => a.CompareTo(b) >= 0;

    public static bool operator <=(TopologyVersion a, TopologyVersion b) => a.CompareTo(b) <= 0;

    /// <summary>The first version of a new incarnation of an entity that last saw <paramref name="known"/>.</summary>
    public static TopologyVersion FirstAfter(TopologyVersion known) => new(Math.Max(DateTime.UtcNow.Ticks, known.Epoch + 1), 0);

    public TopologyVersion Next() => this with { Seq = Seq + 1 };

    /// <summary>
    /// The next version an entity's incarnation writes: its first (above <paramref name="replicated"/>,
    /// what this node holds for the name) when it has written none yet, else one up from <paramref name="current"/>.
    /// </summary>
    public static TopologyVersion NextOf(TopologyVersion current, TopologyVersion replicated) =>
        current == default ? FirstAfter(replicated) : current.Next();

    public override string ToString() => $"{Epoch}.{Seq}";
}
