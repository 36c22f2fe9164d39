namespace Broker.Protocol;

/// <summary>
/// Base of the generated method classes (Generated/Methods.g.cs): each knows its ids and how to
/// write its arguments; decoding goes through <see cref="Methods.MethodDecoder"/>.
/// </summary>
public abstract class Method
{
    public abstract ushort ClassId { get; }
    public abstract ushort MethodId { get; }

    /// <summary>The spec's dotted name, e.g. "basic.publish", for logs and error texts.</summary>
    public abstract string Name { get; }

    /// <summary>True for methods followed by a content header and body frames.</summary>
    public abstract bool HasContent { get; }

    /// <summary>True for methods that expect a reply method.</summary>
    public abstract bool IsSynchronous { get; }

    public abstract void EncodeArguments(AmqpWriter w);

    public override string ToString() => Name;
}
