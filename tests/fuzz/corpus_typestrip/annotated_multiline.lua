type Point = {
  x: number,
  y: number, -- comment
}
local function dist(
  a: Point,
  b: Point
): number
  return ((a.x - b.x) ^ 2 + (a.y - b.y) ^ 2) ^ 0.5
end
