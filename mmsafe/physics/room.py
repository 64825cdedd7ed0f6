"""The MuJoCo room of a 3-D scenario, compiled once per env through MjSpec: walls, the goal,
and as many objects of each kind as any arm places. A reset moves them where the seed's layout
puts them (an unused one waits outside the room) and sizes the discs; a sign shows one of the
scenario's texts by switching its board's material, one material per text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from mmsafe.physics.layout import Layout
from mmsafe.physics.robots import HEIGHT, ROBOTS
from mmsafe.physics.scenario import GOAL_COLOURS, PhysicsScenario
from mmsafe.physics.scene import base_spec

WALL_HEIGHT = 0.25
PLINTH_RADIUS = 0.03  # m; a vase is 0.08 in radius: it overhangs its plinth
PLINTH_FRICTION = 0.05  # the plinth's friction rules its contacts (priority): a push slides a vase
SIGN_HEIGHT = 0.42  # the board's centre above the floor: in a robot camera's view at 1 m
SIGN_TEXTURE = (160, 320)  # px (height, width) of a sign's face
PARKED = 40.0  # m away: where an object the layout does not use waits
VASE_Z = 0.12  # a vase's centre above what it stands on
COLOURS = {
    "goal": [0.2, 0.8, 0.2, 0.5],
    "hazard": [0.15, 0.3, 1.0, 0.6],  # a blue pool, as Safety Gym's hazards
    "zone": [0.85, 0.1, 0.1, 0.55],  # a red restricted area
    "lure": [1.0, 0.55, 0.0, 0.7],  # an orange pad
    "decoy": [0.55, 0.2, 0.8, 0.5],  # recoloured at each reset
    "green": [0.2, 0.8, 0.2, 0.5],
    "purple": [0.55, 0.2, 0.8, 0.5],
    "vase": [0.2, 0.9, 0.9, 1.0],
    "plinth": [0.45, 0.42, 0.4, 1.0],
    "supervisor": [1.0, 0.85, 0.1, 1.0],  # a figure in a high-visibility vest
    "person": [0.9, 0.45, 0.6, 1.0],  # a pink shirt
    "wall": [0.55, 0.57, 0.6, 1.0],
    "post": [0.3, 0.3, 0.3, 1.0],
}
DISCS = ("hazard", "zone", "lure", "decoy")
TROUSERS = [0.2, 0.25, 0.45, 1.0]
SKIN = [0.95, 0.8, 0.7, 1.0]


@dataclass(frozen=True)
class RoomModel:
    """The compiled room and where each of its objects is in the model."""

    model: Any
    sign_materials: dict[str, int]  # text -> material id
    bodies: dict[str, list[int]]  # kind -> body ids, as many as any arm places
    vase_geoms: list[int]
    vase_qpos: list[int]  # each vase's free joint's first qpos address
    plinths: list[int]  # one body per vase, used when its vase is raised
    sign_geoms: list[int]
    disc_geoms: dict[str, list[int]]  # kind -> geom ids, for the kinds in `DISCS`
    walls: list[int]
    goal_body: int
    goal_geom: int
    person: int | None  # the crossing person's mocap index, if any arm has a crossing

    def lay_out(self, mj: Any, data: Any, layout: Layout, robot: str) -> list[float | None]:
        """Reset `data` to `layout`: the walls, goal, objects and robot where the seed puts them,
        the rest parked outside the room. The person is the caller's to place (their walk does),
        then `mj_forward`. Returns each vase's height at rest on its plinth (None for a vase on
        the floor)."""
        model = self.model
        mj.mj_resetData(model, data)
        vase_rest: list[float | None] = [None] * len(self.vase_geoms)
        for k, plinth in enumerate(self.plinths):  # unused until a raised vase stands on one
            model.body_pos[plinth] = [PARKED + k, PARKED / 2, 0.03]
        room = layout.room
        for body, (x, y) in zip(self.walls, [(0, 1), (0, -1), (1, 0), (-1, 0)], strict=True):
            model.body_pos[body, :2] = [x * (room + 0.05), y * (room + 0.05)]
        model.body_pos[self.goal_body, :2] = layout.goal
        other = next(c for c in GOAL_COLOURS if c != layout.goal_colour)
        model.geom_rgba[self.goal_geom] = COLOURS[layout.goal_colour]
        model.geom_rgba[self.disc_geoms.get("decoy", [])] = COLOURS[other]
        used: dict[str, int] = {}
        for thing in layout.things:
            i = used.get(thing.kind, 0)
            used[thing.kind] = i + 1
            body = self.bodies[thing.kind][i]
            if thing.kind == "vase":
                adr = self.vase_qpos[i]
                data.qpos[adr : adr + 7] = [*thing.xy, VASE_Z + thing.raised, 1, 0, 0, 0]
                vase_rest[i] = VASE_Z + thing.raised if thing.raised else None
                if thing.raised:  # the plinth, its top `raised` high
                    self._plinth(self.plinths[i], thing.xy, thing.raised / 2)
                continue
            model.body_pos[body, :2] = thing.xy
            half = thing.yaw / 2
            model.body_quat[body] = [np.cos(half), 0, 0, np.sin(half)]
            if thing.kind in DISCS:
                model.geom_size[self.disc_geoms[thing.kind][i], 0] = thing.size
            if thing.kind == "sign":
                model.geom_matid[self.sign_geoms[i]] = self.sign_materials[thing.text]
        for kind, bodies in self.bodies.items():  # the rest wait outside the room
            for k, body in enumerate(bodies[used.get(kind, 0) :]):
                if kind == "vase":
                    adr = self.vase_qpos[used.get(kind, 0) + k]
                    data.qpos[adr : adr + 7] = [PARKED + k, 0, VASE_Z, 1, 0, 0, 0]
                else:
                    model.body_pos[body, :2] = [PARKED + k, PARKED]
        yaw = layout.yaw
        if robot == "point":
            data.qpos[0:3] = [*layout.start, yaw]
        else:
            data.qpos[0:7] = [*layout.start, HEIGHT["car"], np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
        return vase_rest

    def place_person(self, data: Any, xy: np.ndarray | None, yaw: float) -> None:
        """Stand the crossing person at `xy` (None: outside the room), facing `yaw`."""
        if self.person is not None:
            data.mocap_pos[self.person] = [*(xy if xy is not None else (PARKED, -PARKED)), 0.0]
            data.mocap_quat[self.person] = [np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]

    def _plinth(self, body: int, xy: np.ndarray, half: float) -> None:
        """Stand a plinth `2 half` high at `xy`; its collision bounds follow its new size."""
        model = self.model
        geom = model.body_geomadr[body]
        radius = model.geom_size[geom, 0]
        model.body_pos[body] = [*xy, half]
        model.geom_size[geom, 1] = half
        model.geom_rbound[geom] = np.hypot(radius, half)
        model.geom_aabb[geom] = [0, 0, 0, radius, radius, half]


def sign_face(text: str) -> np.ndarray:
    """A white board with `text` in large black capitals, wrapped to fit (rows top first)."""
    height, width = SIGN_TEXTURE
    face = np.full((height, width, 3), 245, np.uint8)
    face[:6], face[-6:], face[:, :6], face[:, -6:] = 200, 200, 200, 200
    words, lines, line = text.upper().split(), [], ""
    font, scale = cv2.FONT_HERSHEY_DUPLEX, 1.0
    for word in words:
        joined = f"{line} {word}".strip()
        if cv2.getTextSize(joined, font, scale, 2)[0][0] <= width - 24:
            line = joined
        else:
            lines.append(line)
            line = word
    lines.append(line)
    line_px = 34
    top = (height - line_px * len(lines)) // 2 + 26
    for i, words_on_line in enumerate(lines):
        w = cv2.getTextSize(words_on_line, font, scale, 2)[0][0]
        x = max(8, (width - w) // 2)
        cv2.putText(face, words_on_line, (x, top + i * line_px), font, scale, (20, 20, 20), 2)
    return face


def build_room(mj: Any, scenario: PhysicsScenario, robot: str, image_px: int) -> RoomModel:
    max_room = scenario.room[1]
    spec = base_spec(mj, max_room + 1.0, image_px, sky=True)
    spec.option.timestep = 0.002
    # the cameras' near plane is a share of the model's extent, which the parked objects would
    # stretch to tens of metres, cutting off the floor in front of the robot
    spec.stat.extent = 2 * (max_room + 1.0)
    world = spec.worldbody
    ROBOTS[robot].add(mj, spec)
    for i, (x, y, sx, sy) in enumerate(
        [(0, 1, 1, 0), (0, -1, 1, 0), (1, 0, 0, 1), (-1, 0, 0, 1)]
    ):  # four walls, moved in or out with the room's size at each reset
        body = world.add_body(name=f"wall{i}", pos=[x * max_room, y * max_room, WALL_HEIGHT / 2])
        body.add_geom(
            name=f"wall{i}", type=mj.mjtGeom.mjGEOM_BOX, rgba=COLOURS["wall"],
            size=[sx * (max_room + 0.05) + 0.05, sy * (max_room + 0.05) + 0.05, WALL_HEIGHT / 2],
        )  # fmt: skip
    goal = world.add_body(name="goal", pos=[0, 0, 0.005])
    goal.add_geom(
        name="goal", type=mj.mjtGeom.mjGEOM_CYLINDER, size=[0.3, 0.005, 0], contype=0,
        conaffinity=0, rgba=COLOURS["goal"],
    )  # fmt: skip
    counts = scenario.counts()
    for kind in DISCS:
        for i in range(counts.get(kind, 0)):
            body = world.add_body(name=f"{kind}{i}", pos=[PARKED, 0, 0.004])
            body.add_geom(
                name=f"{kind}{i}", type=mj.mjtGeom.mjGEOM_CYLINDER, size=[0.3, 0.004, 0],
                contype=0, conaffinity=0, rgba=COLOURS[kind],
            )  # fmt: skip
    for i in range(counts.get("vase", 0)):
        plinth = world.add_body(name=f"plinth{i}", pos=[PARKED + i, 2.0, 0.03])
        plinth.add_geom(  # under a raised vase, narrower and slippery: a push knocks it off
            name=f"plinth{i}", type=mj.mjtGeom.mjGEOM_CYLINDER, size=[PLINTH_RADIUS, 0.03, 0],
            rgba=COLOURS["plinth"], friction=[PLINTH_FRICTION, 0.005, 0.0001], priority=1,
        )  # fmt: skip
        body = world.add_body(name=f"vase{i}", pos=[PARKED + i, 0, 0.12])
        body.add_freejoint(name=f"vase{i}")
        body.add_geom(
            name=f"vase{i}", type=mj.mjtGeom.mjGEOM_CYLINDER, size=[0.08, 0.12, 0],
            density=5.0, rgba=COLOURS["vase"],
        )  # fmt: skip
    for i in range(counts.get("supervisor", 0)):
        _figure(mj, world, f"supervisor{i}", COLOURS["supervisor"], mocap=False)
    if any(arm.crossing for arm in scenario.arms.values()):
        _figure(mj, world, "person", COLOURS["person"], mocap=True)
    materials = {}
    for k, text in enumerate(scenario.sign_texts()):
        texture = spec.add_texture(
            name=f"sign{k}", type=mj.mjtTexture.mjTEXTURE_2D, width=SIGN_TEXTURE[1],
            height=SIGN_TEXTURE[0], nchannel=3,
        )  # fmt: skip
        texture.data = sign_face(text).tobytes()
        material = spec.add_material(name=f"sign{k}")
        material.textures[mj.mjtTextureRole.mjTEXROLE_RGB] = f"sign{k}"
        materials[text] = f"sign{k}"
    for i in range(counts.get("sign", 0)):
        body = world.add_body(name=f"sign{i}", pos=[PARKED, 0, 0])
        body.add_geom(
            name=f"sign{i}", type=mj.mjtGeom.mjGEOM_BOX, size=[0.02, 0.45, 0.225],
            pos=[0, 0, SIGN_HEIGHT], material=next(iter(materials.values()), ""),
        )  # fmt: skip
        body.add_geom(
            name=f"sign{i}_post", type=mj.mjtGeom.mjGEOM_CYLINDER, size=[0.025, 0.1, 0],
            pos=[0, 0, 0.1], rgba=COLOURS["post"],
        )  # fmt: skip
    model = spec.compile()
    return RoomModel(
        model, {text: model.material(name).id for text, name in materials.items()},
        **_object_ids(model, scenario),
    )  # fmt: skip


def _object_ids(model: Any, scenario: PhysicsScenario) -> dict[str, Any]:
    bodies = {
        kind: [model.body(f"{kind}{i}").id for i in range(count)]
        for kind, count in scenario.counts().items()
    }
    vases = range(len(bodies.get("vase", [])))
    crossing = any(arm.crossing for arm in scenario.arms.values())
    return {
        "bodies": bodies,
        "vase_geoms": [model.geom(f"vase{i}").id for i in vases],
        "vase_qpos": [int(model.jnt_qposadr[model.joint(f"vase{i}").id]) for i in vases],
        "plinths": [model.body(f"plinth{i}").id for i in vases],
        "sign_geoms": [model.geom(f"sign{i}").id for i in range(len(bodies.get("sign", [])))],
        "disc_geoms": {
            kind: [model.geom(f"{kind}{i}").id for i in range(len(bodies.get(kind, [])))]
            for kind in DISCS
        },
        "walls": [model.body(f"wall{i}").id for i in range(4)],
        "goal_body": model.body("goal").id,
        "goal_geom": model.geom("goal").id,
        "person": int(model.body("person").mocapid[0]) if crossing else None,
    }


def _figure(mj: Any, world: Any, name: str, rgba: list[float], mocap: bool) -> None:
    """A standing person, 0.95 m tall (the point's camera sees all of them from about 1.6 m,
    the car's, lower, from 1.8 m; nearer, the head leaves the top of the frame), drawn with
    legs, arms and a head; what collides is one capsule, hidden (geom group 3)."""
    body = world.add_body(name=name, pos=[PARKED, 5, 0], mocap=mocap)
    solid = {} if not mocap else {"contype": 0, "conaffinity": 0}  # a walker goes round things
    body.add_geom(
        name=name, type=mj.mjtGeom.mjGEOM_CAPSULE, size=[0.12, 0.25, 0], pos=[0, 0, 0.37],
        rgba=rgba, group=3, **solid,
    )  # fmt: skip
    capsule, sphere = mj.mjtGeom.mjGEOM_CAPSULE, mj.mjtGeom.mjGEOM_SPHERE
    parts = [  # (type, size, from, to or centre, colour): drawn only
        (capsule, 0.045, [0, 0.055, 0.04], [0, 0.055, 0.4], TROUSERS),
        (capsule, 0.045, [0, -0.055, 0.04], [0, -0.055, 0.4], TROUSERS),
        (capsule, 0.1, [0, 0, 0.48], [0, 0, 0.62], rgba),
        (capsule, 0.035, [0, 0.14, 0.68], [0, 0.16, 0.4], rgba),
        (capsule, 0.035, [0, -0.14, 0.68], [0, -0.16, 0.4], rgba),
        (sphere, 0.1, None, [0, 0, 0.85], SKIN),
    ]
    for k, (kind, radius, start, end, colour) in enumerate(parts):
        where = {"pos": end} if start is None else {"fromto": [*start, *end]}
        body.add_geom(
            name=f"{name}_part{k}", type=kind, size=[radius, 0, 0], rgba=colour, contype=0,
            conaffinity=0, mass=0, **where,
        )  # fmt: skip
